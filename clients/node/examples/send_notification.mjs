#!/usr/bin/env node
// Send a system notification (or, with --url, a batchgo_open_url) to a user's browser tabs.
//
//   node clients/node/examples/send_notification.mjs --user 42 \
//     --token "$(./build/notifyd token --user backend --role service)" --message '您有新的消息'
import { parseArgs } from 'node:util';

import { NotifydClient, NotifydError } from '../index.js';

const { values: a } = parseArgs({
  options: {
    addr: { type: 'string', default: 'localhost:50051' },
    token: { type: 'string' },
    user: { type: 'string' },
    title: { type: 'string', default: '系统通知' },
    message: { type: 'string', default: '您有新的消息' },
    level: { type: 'string', default: 'info' },
    url: { type: 'string', multiple: true },
    delay: { type: 'string', default: '1000' },
  },
});
if (!a.token || !a.user) {
  console.error('usage: send_notification.mjs --user ID --token JWT [--addr host:port] [--message TEXT] [--level info|warning|error|success] [--url URL ...]');
  process.exit(2);
}

const client = new NotifydClient({ address: a.addr, token: a.token });
try {
  const r = a.url
    ? await client.notifyBatchGoOpenUrl(a.user, 'batch_001', a.url, { delay: Number(a.delay) })
    : await client.sendSystemNotification(a.user, a.message, { title: a.title, level: a.level });
  console.log(`message ${r.message_id} reached ${r.connections} connection(s)${r.stored ? ', kept for later' : ''}`);
} catch (e) {
  if (!(e instanceof NotifydError)) throw e;
  console.error(`failed: ${e.codeName}: ${e.details}`);
  process.exitCode = e.codeName === 'INVALID_ARGUMENT' ? 2 : 1;
} finally {
  client.close();
}
