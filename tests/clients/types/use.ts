// Compiled (never run) by tsc -p tests/clients/types: the declarations of both JS clients must type-check as used here.
import { NotifydClient, CloseCode, KEPT_TYPES, createClient } from '../../../clients/browser/notifyd.js';
import NodeClient, { NotifydError, Level, Priority } from '../../../clients/node/index.js';
import type { MulticastDelivery, Template } from '../../../clients/node/index.js';

const c = new NotifydClient({ url: 'ws://localhost:8080/ws', token: 't', ack: true, giveUpOn: [CloseCode.TOKEN_EXPIRED], getToken: async () => 'x' });
c.on('batchgo_open_url', (data) => data.urls.forEach((u, i) => setTimeout(() => console.log(u), i * data.delay)));
c.on('system_notification', async (data, msg) => { const l: string = data.level; console.log(l, msg.message_id); });
const b = new NotifydClient({ token: 't', batch: true, ack: true });
b.on('system_notification', (data, msg) => {
  const p: 'normal' | 'high' | 'urgent' = msg.priority ?? 'normal';
  const g: string | undefined = msg.group;
  console.log(p, g, data.title);
});
b.connect().then((d) => console.log(d.batch === true));
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
c.on('feed_update', (d) => console.log(d.action, d.counts.unread, d.ids?.length, d.all));
c.feed.list({ limit: 20, filter: 'unread' }).then((p) => p.items.forEach((i) => console.log(i.id, i.read, p.next_before)));
c.feed.counts().then((n) => console.log(n.total, n.unseen));
c.feed.mark({ ids: ['0190000000000000'], action: 'read' }).then((r) => console.log(r.updated, r.counts.unread));
c.feed.mark({ all: true, action: 'seen' });
console.log(KEPT_TYPES.length, s, createClient('tok').state);

async function node() {
  const n = new NodeClient({ address: 'localhost:50051', token: () => 'x' });
  const d = await n.notifyBatchGoOpenUrl('42', 'b', ['https://example.com'], { delay: 1000 });
  console.log(d.message_id, d.connections, d.stored);
  await n.sendSystemNotification('42', 'hi', { level: 'warning', title: 't' });
  await n.notifyBatchGoProgress('42', 't', { progress: 5, total: 10 });
  await n.sendSystemNotification('42', 'hi', { priority: 'urgent', group: 'security' });
  await n.sendSystemNotification('42', { template_id: 'welcome', params: { name: 'Ann', days: 3, vip: true }, priority: Priority.HIGH });
  await n.notifyBatchGoProgress('42', 't', { progress: 5, priority: 'high', group: 'task:t' });
  await n.notifyPlanExpiring('42', 'pro', 3, 1900000000, { template_id: 'plan', params: { days: 3 } });
  await n.broadcast({ template_id: 'maintenance' });
  const mc: MulticastDelivery = await n.notifyUsers(['a', 'b'], 'hello', { level: 'warning', group: 'g' });
  const mc2 = await n.notifyUsers(['a', 'b'], { template_id: 'welcome', params: { name: 'x' } });
  console.log(mc.message_ids.length, mc.reached, mc.stored, mc2.users, mc2.connections);
  const put = await n.putTemplate('welcome', 'Hello {{name}}', { title: 'Hi' });
  const t: Template = put.template;
  console.log(put.created, t.updated_at.toFixed(0), (await n.getTemplate('welcome')).message);
  const all: Template[] = await n.listTemplates();
  const gone: string = await n.deleteTemplate('welcome');
  console.log(all.map((x) => x.id), gone);
  // @ts-expect-error the object form needs a template_id
  await n.sendSystemNotification('42', { title: 'no template' });
  // @ts-expect-error priority names are normal, high or urgent
  await n.sendTestMessage('42', { priority: 'loud' });
  const st = await n.getStats();
  console.log(st.connected_users.join(','), Level.INFO);
  try { await n.getStats(); } catch (e) { if (e instanceof NotifydError) console.log(e.codeName, e.details); }
  n.close();
}
node();
