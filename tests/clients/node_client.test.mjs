// The Node client (clients/node) against the real notifyd: the bundled proto is
// proto/'s, every helper delivers its type, publish sends the caller's own types,
// disconnectUser closes a user's tabs, multicast gives each user its own id,
// priority and group reach the envelope, templates round-trip (NOT_FOUND), errors
// carry the gRPC code and notifyd's text, and the examples run.
//
//   NOTIFYD_BIN=build/notifyd node --test tests/clients/node_client.test.mjs
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { Level, NotifydClient, NotifydError, Priority, Status } from '../../clients/node/index.js';
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
      assert.deepEqual(Object.keys(d).sort(), ['connections', 'feed', 'message_id', 'stored']);
      assert.equal(typeof d.feed, 'boolean');
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

  test('notifyUsers: one call, a distinct message id per user', async () => {
    const other = await openWs(nd.wsUrl, token('js2'));
    try {
      const r = await client.notifyUsers(['js1', 'js2', 'js-off', 'js1'], 'Tonight 22:00-23:00', { title: 'Maintenance', level: 'warning', priority: 'high', group: 'maint' });
      assert.deepEqual(Object.keys(r).sort(), ['connections', 'feed_users', 'message_ids', 'reached', 'stored', 'users']);
      assert.equal(r.feed_users, 3, 'a system notification goes to each user\'s feed');
      assert.equal(r.users, 3, 'a repeated user counts once');
      assert.equal(r.message_ids.length, 3);
      assert.equal(new Set(r.message_ids).size, 3, 'distinct ids');
      for (const id of r.message_ids) assert.match(id, /^[0-9a-f]{16}$/);
      assert.deepEqual([r.reached, r.stored, r.connections], [2, 1, 2]);
      const m1 = await byId(r.message_ids[0]);
      const m2 = await waitFor(() => other.messages.find((m) => m.message_id === r.message_ids[1]), 5000, 'js2 message');
      for (const [m, user] of [[m1, 'js1'], [m2, 'js2']]) {
        assert.equal(m.type, 'system_notification');
        assert.equal(m.user_id, user);
        assert.equal(m.data.message, 'Tonight 22:00-23:00');
        assert.equal(m.data.level, 'warning');
        assert.equal(m.priority, 'high');
        assert.equal(m.group, 'maint');
      }
      assert.ok(!ws.messages.some((m) => m.message_id === r.message_ids[1]), "js2's message not to js1");
      const e = await client.notifyUsers([], 'nobody').catch((x) => x);
      assert.equal(e.codeName, 'INVALID_ARGUMENT');
    } finally {
      await other.close();
    }
  });

  test('priority and group arrive in the envelope', async () => {
    let m = await byId((await client.sendSystemNotification('js1', 'Your account is locked', { priority: 'urgent', group: 'security' })).message_id);
    assert.deepEqual([m.priority, m.group], ['urgent', 'security']);
    m = await byId((await client.notifyBatchGoProgress('js1', 't1', { progress: 10, priority: Priority.HIGH, group: 'task:t1' })).message_id);
    assert.deepEqual([m.type, m.data.progress, m.priority, m.group], ['batchgo_progress', 10, 'high', 'task:t1']);
    for (const d of [
      await client.notifyTokenInsufficient('js1', 1, 2, { priority: 3 }),
      await client.notifyBatchGoOpenUrl('js1', 'b', ['https://example.com'], { priority: 'URGENT' }),
      await client.sendTestMessage('js1', { priority: 'urgent', group: 't' }),
    ]) assert.equal((await byId(d.message_id)).priority, 'urgent');
    m = await byId((await client.sendSystemNotification('js1', 'plain', { priority: 'normal' })).message_id);
    assert.ok(!('priority' in m) && !('group' in m), 'normal and no group: nothing in the envelope');
    await assert.rejects(client.sendSystemNotification('js1', 'x', { priority: 'loud' }), /priority must be/);
    const e = await client.sendSystemNotification('js1', 'x', { group: 'g'.repeat(129) }).catch((x) => x);
    assert.equal(e.codeName, 'INVALID_ARGUMENT');
    assert.match(e.details, /group/);
  });

  test('publish: your own type, data as given, each target; disconnectUser (admin)', async () => {
    let r = await client.publish('order.shipped', { order_id: 'A-1001', price: 0.1 }, { user_id: 'js1', priority: 'high', group: 'orders' });
    let m = await byId(r.message_id);
    assert.deepEqual([m.type, m.priority, m.group], ['order.shipped', 'high', 'orders']);
    assert.deepEqual(m.data, { order_id: 'A-1001', price: 0.1 });
    assert.equal(r.connections, 1);
    r = await client.publish('chat:message', '{"text": "hi"}', { user_ids: ['js1', 'js-pub-off'], store: 'always', ttl_ms: 60000 });
    assert.deepEqual([r.users, r.reached, r.stored_users, r.stored, r.message_ids.length], [2, 1, 1, true, 2]);
    assert.deepEqual((await byId(r.message_ids[0])).data, { text: 'hi' });
    r = await client.publish('maintenance', null, { broadcast: true });
    assert.deepEqual((await byId(r.message_id)).data, {});
    let e = await client.publish('ping', {}, { user_id: 'js1' }).catch((x) => x);
    assert.equal(e.codeName, 'INVALID_ARGUMENT');
    assert.match(e.details, /one of notifyd's own/);
    e = await client.publish('t', [1], { user_id: 'js1' }).catch((x) => x);
    assert.match(e.details, /data must be a JSON object, not an array/);
    await assert.rejects(client.publish('t', {}, { user_id: 'js1', store: 'maybe' }), /store must be/);

    const gone = await openWs(nd.wsUrl, token('js-dis'));
    e = await client.disconnectUser('js-dis').catch((x) => x);
    assert.equal(e.codeName, 'PERMISSION_DENIED');
    const admin = new NotifydClient({ address: nd.grpcAddr, token: token('ops', { role: 'admin' }) });
    try {
      assert.deepEqual(await admin.disconnectUser('js-dis', { reason: 'account suspended' }), { user_id: 'js-dis', closed: 1 });
      m = await waitFor(() => gone.messages.find((x) => x.type === 'disconnected'), 5000, 'the disconnected message');
      assert.deepEqual(m.data, { code: 4004, reason: 'account suspended', reconnect: false });
    } finally {
      admin.close();
      await gone.close();
    }
  });

  test('templates: put (admin), render for a user (service), list, delete, NOT_FOUND', async () => {
    const admin = new NotifydClient({ address: nd.grpcAddr, token: token('ops', { role: 'admin' }), timeoutMs: 5000 });
    try {
      const put = await admin.putTemplate('js-welcome', 'Welcome {{name}}, you are {{user_id}} ({{days}} days)', { title: 'Hi {{name}}' });
      assert.equal(put.created, true);
      assert.deepEqual(Object.keys(put.template).sort(), ['id', 'message', 'title', 'updated_at']);
      assert.equal(put.template.id, 'js-welcome');
      assert.equal(typeof put.template.updated_at, 'number');
      assert.ok(put.template.updated_at > 1600000000000, 'Unix milliseconds');
      assert.equal((await admin.putTemplate('js-welcome', 'Welcome {{name}}, you are {{user_id}} ({{days}} days)', { title: 'Hi {{name}}' })).created, false);
      const got = await admin.getTemplate('js-welcome');
      assert.deepEqual([got.title, got.message], ['Hi {{name}}', 'Welcome {{name}}, you are {{user_id}} ({{days}} days)']);
      assert.ok((await admin.listTemplates()).some((t) => t.id === 'js-welcome'));

      // rendered per user with a service token; numbers are sent as strings
      let m = await byId((await client.sendSystemNotification('js1', { template_id: 'js-welcome', params: { name: 'Ann "{{x}}"', days: 3 }, level: 'success' })).message_id);
      assert.equal(m.data.title, 'Hi Ann "{{x}}"');
      assert.equal(m.data.message, 'Welcome Ann "{{x}}", you are js1 (3 days)');
      assert.equal(m.data.level, 'success');
      const r = await client.notifyUsers(['js1', 'js-off'], { template_id: 'js-welcome', params: { name: 'all', days: 7 } });
      assert.equal((await byId(r.message_ids[0])).data.message, 'Welcome all, you are js1 (7 days)');
      m = await byId((await client.notifyPlanExpired('js1', 'pro', 1800000000, { template_id: 'js-welcome', params: { name: 'P', days: 0 } })).message_id);
      assert.deepEqual([m.type, m.data.message], ['plan_expired', 'Welcome P, you are js1 (0 days)']);

      let e = await client.sendSystemNotification('js1', { template_id: 'js-welcome', params: { name: 'no days' } }).catch((x) => x);
      assert.equal(e.codeName, 'INVALID_ARGUMENT');
      assert.match(e.details, /param "days"/);
      e = await client.sendSystemNotification('js1', 'text too', { template_id: 'js-welcome', params: { name: 'x', days: 1 } }).catch((x) => x);
      assert.match(e.details, /not both/);
      e = await client.broadcast({ template_id: 'js-nope' }).catch((x) => x);
      assert.match(e.details, /no such template/);
      await assert.rejects(client.sendSystemNotification('js1', 'x', { params: { a: 'b' } }), /params needs a template_id/);
      e = await client.putTemplate('js-svc', 'a service token may not').catch((x) => x);
      assert.equal(e.codeName, 'PERMISSION_DENIED');

      assert.equal(await admin.deleteTemplate('js-welcome'), 'js-welcome');
      assert.ok(!(await admin.listTemplates()).some((t) => t.id === 'js-welcome'));
      e = await admin.getTemplate('js-welcome').catch((x) => x);
      assert.ok(e instanceof NotifydError);
      assert.equal(e.code, Status.NOT_FOUND);
      assert.equal(e.codeName, 'NOT_FOUND');
      assert.equal(e.method, 'GetTemplate');
      e = await admin.deleteTemplate('js-welcome').catch((x) => x);
      assert.equal(e.codeName, 'NOT_FOUND');
    } finally {
      admin.close();
    }
  });

  test('the feed: listFeed, getFeedCounts, markFeed', async () => {
    const ids = [];
    for (const t of ['f0', 'f1', 'f2']) ids.push((await client.sendSystemNotification('js-feed', t)).message_id);
    const page = await client.listFeed('js-feed', { limit: 2 });
    assert.deepEqual(page.items.map((i) => i.id), [ids[2], ids[1]]);
    assert.equal(page.next_before, ids[1]);
    assert.equal(page.items[0].data.message, 'f2');
    assert.deepEqual([page.items[0].seen, page.items[0].read, page.items[0].archived, page.items[0].priority], [false, false, false, 'normal']);
    assert.deepEqual((await client.listFeed('js-feed', { before: page.next_before })).items.map((i) => i.id), [ids[0]]);
    assert.deepEqual(await client.getFeedCounts('js-feed'), { total: 3, unseen: 3, unread: 3 });
    assert.deepEqual(await client.markFeed('js-feed', { ids: ids.slice(0, 2), action: 'read' }),
      { updated: 2, counts: { total: 3, unseen: 1, unread: 1 } });
    assert.deepEqual((await client.listFeed('js-feed', { filter: 'unread' })).items.map((i) => i.id), [ids[2]]);
    await assert.rejects(client.markFeed('js-feed', { all: true, action: 'delete' }), /action must be/);
    const e = await client.listFeed('js-feed', { limit: 500 }).catch((x) => x);
    assert.equal(e.codeName, 'INVALID_ARGUMENT');
    assert.match(e.details, /limit/);
  });

  test('the feed option: publish into the feed, keep a notification out of it', async () => {
    const kept = (await client.publish('order.shipped', { order_id: 'A-1' }, { user_id: 'js-feedflag', feed: true })).message_id;
    await client.publish('order.packed', { order_id: 'A-1' }, { user_id: 'js-feedflag' });
    await client.sendSystemNotification('js-feedflag', 'not in the feed', { feed: false });
    const byDefault = (await client.sendSystemNotification('js-feedflag', 'in the feed')).message_id;
    const items = (await client.listFeed('js-feedflag')).items;
    assert.deepEqual(items.map((i) => i.id), [byDefault, kept]);
    assert.deepEqual([items[1].type, items[1].data], ['order.shipped', { order_id: 'A-1' }]);
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

  test('publish_event.mjs: your own event', async () => {
    const r = await node('publish_event.mjs', ['--addr', nd.grpcAddr, '--token', svc, '--user', 'js1', '--type', 'order.shipped', '--data', '{"order_id": "A-1001"}']);
    assert.match(r.stdout, /^message [0-9a-f]{16} reached 1 connection\(s\)/);
    const m = await byId(r.stdout.split(' ')[1]);
    assert.equal(m.type, 'order.shipped');
    assert.deepEqual(m.data, { order_id: 'A-1001' });
    const bad = await node('publish_event.mjs', ['--addr', nd.grpcAddr, '--token', svc, '--user', 'js1', '--type', 'Bad Type']).catch((x) => x);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /failed: INVALID_ARGUMENT: type must be/);
  });

  test('multicast_template.mjs: a template put by an admin, sent to several users', async () => {
    const r = await node('multicast_template.mjs', ['--addr', nd.grpcAddr, '--token', svc, '--admin-token', token('ops', { role: 'admin' }),
      '--param', 'plan=Pro', '--param', 'days=3', '--group', 'billing', 'js1', 'js-ex-off']);
    assert.match(r.stdout, /^template plan-reminder (created|replaced)/);
    assert.match(r.stdout, /2 user\(s\): 1 reached on 1 connection\(s\), 1 kept for later/);
    const id = r.stdout.match(/^js1: message ([0-9a-f]{16})$/m)[1];
    const m = await byId(id);
    assert.equal(m.data.title, 'Pro ends soon');
    assert.equal(m.data.message, 'Dear js1, your Pro plan ends in 3 days');
    assert.equal(m.group, 'billing');
    const bad = await node('multicast_template.mjs', ['--addr', nd.grpcAddr, '--token', svc, '--param', 'plan=Pro', 'js1']).catch((x) => x);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /failed: INVALID_ARGUMENT: .*days/);
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
