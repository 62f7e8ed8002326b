#!/usr/bin/env node
// Keep a message template (admin token), then send it to several users in one call (service token).
//
//   node clients/node/examples/multicast_template.mjs \
//     --admin-token "$(./build/notifyd token --user ops --role admin)" \
//     --token "$(./build/notifyd token --user backend --role service)" \
//     --param plan=Pro --param days=3 alice bob carol
//
// Each user gets their own message id and text: "Dear alice, your Pro plan ends in 3 days".
// Without --admin-token the template must exist already; --title/--message change it.
import { parseArgs } from 'node:util';

import { NotifydClient, NotifydError } from '../index.js';

const { values: a, positionals: users } = parseArgs({
  allowPositionals: true,
  options: {
    addr: { type: 'string', default: 'localhost:50051' },
    token: { type: 'string' },
    'admin-token': { type: 'string' },
    template: { type: 'string', default: 'plan-reminder' },
    title: { type: 'string', default: '{{plan}} ends soon' },
    message: { type: 'string', default: 'Dear {{user_id}}, your {{plan}} plan ends in {{days}} days' },
    param: { type: 'string', multiple: true, default: [] },
    priority: { type: 'string', default: 'normal' },
    group: { type: 'string', default: '' },
  },
});
if (!a.token || users.length === 0 || a.param.some((p) => !p.includes('='))) {
  console.error('usage: multicast_template.mjs --token JWT [--admin-token JWT] [--template ID] [--param NAME=VALUE ...] [--priority normal|high|urgent] [--group KEY] USER...');
  process.exit(2);
}
const params = Object.fromEntries(a.param.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));

const admin = a['admin-token'] ? new NotifydClient({ address: a.addr, token: a['admin-token'] }) : null;
const client = new NotifydClient({ address: a.addr, token: a.token });
try {
  if (admin) {
    const put = await admin.putTemplate(a.template, a.message, { title: a.title });
    console.log(`template ${put.template.id} ${put.created ? 'created' : 'replaced'}: ${JSON.stringify(put.template.message)}`);
  }
  const r = await client.notifyUsers(users, { template_id: a.template, params, priority: a.priority, group: a.group });
  [...new Set(users)].forEach((u, i) => console.log(`${u}: message ${r.message_ids[i]}`));
  console.log(`${r.users} user(s): ${r.reached} reached on ${r.connections} connection(s), ${r.stored} kept for later`);
} catch (e) {
  if (!(e instanceof NotifydError)) throw e;
  console.error(`failed: ${e.codeName}: ${e.details}`);
  process.exitCode = e.codeName === 'INVALID_ARGUMENT' ? 2 : 1;
} finally {
  if (admin) admin.close();
  client.close();
}
