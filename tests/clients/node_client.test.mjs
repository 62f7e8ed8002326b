// The Node client (clients/node) against the real notifyd: the bundled proto is
// proto/'s, every helper delivers its type, errors carry the gRPC code and
// notifyd's text, and the examples run.
//
//   NOTIFYD_BIN=build/notifyd node --test tests/clients/node_client.test.mjs
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { Level, NotifydClient, NotifydError, Status } from '../../clients/node/index.js';
import { Notifyd, TOP, openWs, token, waitFor } from './notifyd_harness.mjs';

const run = promisify(execFile);
const EXAMPLES = path.join(TOP, 'clients', 'node', 'examples');

let nd;
let client;
let ws;
before(async () => {
  nd = await Notifyd.start();
  client = new NotifydClient({ address: nd.grpcAddr, token: token('backend', { role: 'service' }), timeoutMs: 5000 });
});
after(async () => {
  if (ws) await ws.close();
  if (client) client.close();
  if (nd) {
    await nd.stop();
    await nd.cleanup();
  }
});

const byId = (id) => waitFor(() => ws.messages.find((m) => m.message_id === id), 5000, `message ${id}`);

test('the bundled proto is proto/notification/v1/notification.proto', () => {
  const want = fs.readFileSync(path.join(TOP, 'proto', 'notification', 'v1', 'notification.proto'));
  const have = fs.readFileSync(path.join(TOP, 'clients', 'node', 'proto', 'notification', 'v1', 'notification.proto'));
  assert.ok(have.equals(want), 'clients/node/proto is stale: cp proto/notification/v1/notification.proto clients/node/proto/notification/v1/');
});

describe('helpers', { timeout: 60000 }, () => {
  test('every helper delivers its message type with its fields', async () => {
    ws = await openWs(nd.wsUrl, token('js1'));
    const cases = [
      [await client.notifyBatchGoStart('js1', 'b1', { total: 3 }), 'batchgo_start', { task_id: 'b1', task_type: 'batchgo', status: 'running', total: 3 }],
      [await client.notifyBatchGoProgress('js1', 'b1', { progress: 33.5, total: 3, completed: 1, message: '1/3' }), 'batchgo_progress', { progress: 33.5, completed: 1, message: '1/3' }],
      [await client.notifyBatchGoComplete('js1', 'b1', { total: 3, completed: 2, failed: 1 }), 'batchgo_complete', { status: 'completed', progress: 100, failed: 1 }],
      [await client.notifySiteRankStart('js1', 's1'), 'siterank_start', { task_type: 'siterank' }],
      [await client.notifySiteRankProgress('js1', 's1', { progress: 50 }), 'siterank_progress', { progress: 50 }],
      [await client.notifySiteRankComplete('js1', 's1'), 'siterank_complete', { task_id: 's1' }],
      [await client.notifyChengelinkStart('js1', 'c1'), 'chengelink_start', { task_type: 'chengelink' }],
      [await client.notifyChengelinkProgress('js1', 'c1', { progress: 10, start_time: 1700000000 }), 'chengelink_progress', { progress: 10, start_time: 1700000000 }],
      [await client.notifyChengelinkComplete('js1', 'c1'), 'chengelink_complete', { task_id: 'c1' }],
      [await client.notifyBatchGoOpenUrl('js1', 'b2', ['https://example.com/a', 'http://example.org'], { delay: 250 }), 'batchgo_open_url', { task_id: 'b2', urls: ['https://example.com/a', 'http://example.org'], delay: 250 }],
      [await client.sendSystemNotification('js1', '您有新的消息', { title: '系统通知', level: 'warning', action: 'Open', action_url: 'https://example.com/x' }), 'system_notification', { title: '系统通知', message: '您有新的消息', level: 'warning', action: 'Open', action_url: 'https://example.com/x' }],
      [await client.sendSystemNotification('js1', 'ok', { level: Level.SUCCESS }), 'system_notification', { level: 'success' }],
      [await client.notifyTokenInsufficient('js1', 5, 20, { task_type: 'batchgo', message: 'low' }), 'token_insufficient', { current_balance: 5, required_tokens: 20, task_type: 'batchgo' }],
      [await client.notifyPlanExpiring('js1', 'pro', 3, 1900000000, { upgrade_url: 'https://example.com/up' }), 'plan_expiring', { plan_name: 'pro', days_left: 3, expires_at: 1900000000 }],
      [await client.notifyPlanExpired('js1', 'pro', 1800000000, { message: 'ended' }), 'plan_expired', { plan_name: 'pro', message: 'ended' }],
      [await client.sendTestMessage('js1'), 'system_notification', { test: true }],
      [await client.broadcast('to everyone', { title: 'all' }), 'system_notification', { message: 'to everyone', title: 'all', level: 'info' }],
    ];
    for (const [d, type, fields] of cases) {
      assert.deepEqual(Object.keys(d).sort(), ['connections', 'message_id', 'stored']);
      assert.match(d.message_id, /^[0-9a-f]{16}$/);
      assert.equal(d.connections, 1);
      assert.equal(typeof d.stored, 'boolean');
      const m = await byId(d.message_id);
      assert.equal(m.type, type);
      for (const [k, v] of Object.entries(fields)) assert.deepEqual(m.data[k], v, `${type}.${k}`);
    }
    const ids = cases.map(([d]) => d.message_id);
    assert.deepEqual(ids, [...ids].sort(), 'ids increase in the order sent');

    const st = await client.getStats();
    assert.equal(st.total_connections, 1);
    assert.deepEqual(st.connected_users, ['js1']);
    assert.equal(typeof st.uptime_seconds, 'number', 'int64 as a number');
    assert.ok(st.messages_total >= cases.length);
    assert.deepEqual(await client.isUserOnline('js1'), { user_id: 'js1', is_online: true, connections: 1 });
    assert.deepEqual(await client.isUserOnline('nobody'), { user_id: 'nobody', is_online: false, connections: 0 });
    const off = await client.sendSystemNotification('js-offline', 'later');
    assert.deepEqual([off.connections, off.stored], [0, true]);
  });

  test('errors carry the gRPC code and notifyd\'s message', async () => {
    let e = await client.notifyBatchGoOpenUrl('js1', 'b', ['https://ok.example', 'ftp://bad']).catch((x) => x);
    assert.ok(e instanceof NotifydError);
    assert.equal(e.code, Status.INVALID_ARGUMENT);
    assert.equal(e.codeName, 'INVALID_ARGUMENT');
    assert.match(e.details, /^urls\[1\]/);
    assert.equal(e.method, 'NotifyBatchGoOpenUrl');
    assert.match(e.message, /^INVALID_ARGUMENT: urls\[1\]/);
    await assert.rejects(client.sendSystemNotification('js1', 'x', { level: 'loud' }), /level must be/);

    const anon = new NotifydClient({ address: nd.grpcAddr });
    e = await anon.getStats().catch((x) => x);
    assert.equal(e.codeName, 'UNAUTHENTICATED');
    anon.close();
    const user = new NotifydClient({ address: nd.grpcAddr, token: token('someone') });
    e = await user.sendTestMessage('js1').catch((x) => x);
    assert.equal(e.codeName, 'PERMISSION_DENIED');
    user.close();
    const nowhere = new NotifydClient({ address: '127.0.0.1:1', token: 'x', timeoutMs: 2000 });
    e = await nowhere.getStats().catch((x) => x);
    assert.ok(['UNAVAILABLE', 'DEADLINE_EXCEEDED'].includes(e.codeName), e.codeName);
    await assert.rejects(nowhere.waitReady(300), (x) => x.codeName === 'UNAVAILABLE');
    nowhere.close();
  });

  test('a token function is called for every call', async () => {
    let calls = 0;
    const c = new NotifydClient({ address: nd.grpcAddr, token: async () => { calls++; return token('backend', { role: 'service' }); } });
    await c.waitReady(5000);
    await c.getStats();
    await c.isUserOnline('x');
    c.close();
    assert.equal(calls, 2);
  });
});

describe('examples', { timeout: 60000 }, () => {
  const svc = token('backend', { role: 'service' });
  const node = (file, args) => run(process.execPath, [path.join(EXAMPLES, file), ...args], { timeout: 30000 });

  test('send_notification.mjs: a notification and an open-url', async () => {
    let r = await node('send_notification.mjs', ['--addr', nd.grpcAddr, '--token', svc, '--user', 'js1', '--message', 'from the example', '--level', 'error']);
    assert.match(r.stdout, /^message [0-9a-f]{16} reached 1 connection\(s\)/);
    let m = await byId(r.stdout.split(' ')[1]);
    assert.equal(m.type, 'system_notification');
    assert.equal(m.data.message, 'from the example');
    assert.equal(m.data.level, 'error');
    r = await node('send_notification.mjs', ['--addr', nd.grpcAddr, '--token', svc, '--user', 'js1', '--url', 'https://example.com', '--url', 'https://example.org', '--delay', '50']);
    m = await byId(r.stdout.split(' ')[1]);
    assert.deepEqual(m.data.urls, ['https://example.com', 'https://example.org']);
    const bad = await node('send_notification.mjs', ['--addr', nd.grpcAddr, '--token', svc, '--user', 'js1', '--url', 'javascript:x']).catch((x) => x);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /failed: INVALID_ARGUMENT: urls\[0\]/);
  });

  test('task_progress.mjs: start, progress per item, complete', async () => {
    const before = ws.messages.length;
    const r = await node('task_progress.mjs', ['--addr', nd.grpcAddr, '--token', svc, '--user', 'js1', '--task', 'ex', '--items', '3', '--pause', '5']);
    assert.match(r.stdout, /task ex: 3 items reported/);
    await waitFor(() => ws.messages.some((m) => m.type === 'batchgo_complete' && m.data.task_id === 'ex'), 5000, 'completion');
    const types = ws.messages.slice(before).filter((m) => m.data && m.data.task_id === 'ex').map((m) => m.type);
    assert.deepEqual(types, ['batchgo_start', 'batchgo_progress', 'batchgo_progress', 'batchgo_progress', 'batchgo_complete']);
  });
});
