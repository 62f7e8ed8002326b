#!/usr/bin/env node
// A BatchGo task reporting its progress: batchgo_start, batchgo_progress per item, batchgo_complete.
//
//   node clients/node/examples/task_progress.mjs --user 42 \
//     --token "$(./build/notifyd token --user backend --role service)" --items 5
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

import { NotifydClient } from '../index.js';

const { values: a } = parseArgs({
  options: {
    addr: { type: 'string', default: 'localhost:50051' },
    token: { type: 'string' },
    user: { type: 'string' },
    task: { type: 'string', default: 'batch_002' },
    items: { type: 'string', default: '5' },
    pause: { type: 'string', default: '200' },
  },
});
if (!a.token || !a.user) {
  console.error('usage: task_progress.mjs --user ID --token JWT [--addr host:port] [--items N] [--pause MS]');
  process.exit(2);
}

const client = new NotifydClient({ address: a.addr, token: a.token });
const total = Number(a.items);
const start_time = Math.floor(Date.now() / 1000);
try {
  await client.notifyBatchGoStart(a.user, a.task, { total, start_time, message: '开始处理' });
  for (let done = 1; done <= total; done++) {
    await sleep(Number(a.pause)); // the real work
    await client.notifyBatchGoProgress(a.user, a.task, { progress: (100 * done) / total, total, completed: done, start_time, message: `处理进度: ${done}/${total}` });
  }
  const r = await client.notifyBatchGoComplete(a.user, a.task, { total, completed: total, start_time, end_time: Math.floor(Date.now() / 1000), message: '完成' });
  console.log(`task ${a.task}: ${total} items reported; completion ${r.message_id} reached ${r.connections} connection(s)`);
} catch (e) {
  console.error(`failed: ${e.message}`);
  process.exitCode = 1;
} finally {
  client.close();
}
