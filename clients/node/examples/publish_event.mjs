#!/usr/bin/env node
// Send your own event: any type, any JSON object as data, to one user's browser tabs.
//
//   node clients/node/examples/publish_event.mjs --user 42 --type order.shipped \
//     --token "$(./build/notifyd token --user backend --role service)" \
//     --data '{"order_id": "A-1001", "carrier": "DHL"}'
//
// Every tab of user 42 gets {"type":"order.shipped","user_id":"42","data":{...},...}, data as written.
import { parseArgs } from 'node:util';

import { NotifydClient, NotifydError } from '../index.js';

const { values: a } = parseArgs({
  options: {
    addr: { type: 'string', default: 'localhost:50051' },
    token: { type: 'string' },
    user: { type: 'string' },
    type: { type: 'string' },
    data: { type: 'string', default: '{}' },
    store: { type: 'string', default: 'auto' },
    'ttl-ms': { type: 'string', default: '0' },
  },
});
if (!a.token || !a.user || !a.type) {
  console.error('usage: publish_event.mjs --user ID --type TYPE --token JWT [--data JSON] [--store auto|always|never] [--ttl-ms N] [--addr host:port]');
  process.exit(2);
}

const client = new NotifydClient({ address: a.addr, token: a.token });
try {
  const r = await client.publish(a.type, a.data, { user_id: a.user, store: a.store, ttl_ms: Number(a['ttl-ms']) });
  console.log(`message ${r.message_id} reached ${r.connections} connection(s)${r.stored ? ', kept for later' : ''}`);
} catch (e) {
  if (!(e instanceof NotifydError)) throw e;
  console.error(`failed: ${e.codeName}: ${e.details}`);
  process.exitCode = e.codeName === 'INVALID_ARGUMENT' ? 2 : 1;
} finally {
  client.close();
}
