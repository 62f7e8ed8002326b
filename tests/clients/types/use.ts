// Compiled (never run) by tsc -p tests/clients/types: the declarations of both JS clients must type-check as used here.
import { NotifydClient, CloseCode, KEPT_TYPES, createClient } from '../../../clients/browser/notifyd.js';
import NodeClient, { NotifydError, Level } from '../../../clients/node/index.js';

const c = new NotifydClient({ url: 'ws://localhost:8080/ws', token: 't', ack: true, giveUpOn: [CloseCode.TOKEN_EXPIRED], getToken: async () => 'x' });
c.on('batchgo_open_url', (data) => data.urls.forEach((u, i) => setTimeout(() => console.log(u), i * data.delay)));
c.on('system_notification', async (data, msg) => { const l: string = data.level; console.log(l, msg.message_id); });
c.on('batchgo_progress', (d) => console.log(d.progress.toFixed(1)));
c.on('reconnecting', (e) => console.log(e.attempt, e.delay, e.cap));
c.on('close', (e) => console.log(e.code, e.willReconnect));
c.on('error', (e) => console.log(e.code, e.message));
c.on('open', (e) => console.log(e.recovered));
c.on('custom_type', (data: any) => console.log(data));
const off = c.on('message', (m) => console.log(m.type));
off();
c.connect().then((d) => console.log(d.client_id));
c.refresh('new').then((r) => console.log(r.expires_at));
const s: string | null = c.lastMessageId;
console.log(KEPT_TYPES.length, s, createClient('tok').state);

async function node() {
  const n = new NodeClient({ address: 'localhost:50051', token: () => 'x' });
  const d = await n.notifyBatchGoOpenUrl('42', 'b', ['https://example.com'], { delay: 1000 });
  console.log(d.message_id, d.connections, d.stored);
  await n.sendSystemNotification('42', 'hi', { level: 'warning', title: 't' });
  await n.notifyBatchGoProgress('42', 't', { progress: 5, total: 10 });
  const st = await n.getStats();
  console.log(st.connected_users.join(','), Level.INFO);
  try { await n.getStats(); } catch (e) { if (e instanceof NotifydError) console.log(e.codeName, e.details); }
  n.close();
}
node();
