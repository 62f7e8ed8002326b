// The browser module's batch mode (batch: true, ?batch=1) in headless Chromium:
// notifyd packs several ready messages into one {"type":"batch"} frame (typically
// the messages kept for a user, on connect); the module unpacks it, so on(type)
// handlers see one message at a time, in order, with the same dedupe, resume and
// ack bookkeeping as single frames. priority and group reach the handlers in the
// envelope.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { acksReceived, connect, makeClient, notes, rec, settle, setup, token, waitRec } from './client_lib.mjs';

const ctx = await setup();
after(async () => {
  if (ctx) await ctx.cleanup();
});

const opens = (x) => x.events.filter((e) => e.ev === 'open').length;
const acked = (x) => x.sent.filter((s) => s.type === 'ack').map((s) => s.data.message_id);
const batches = (x) => x.frames.filter((f) => f.type === 'batch');

/** reconnect() -- once notifyd has the acks sent so far -- and wait until the replay has arrived */
async function reconnect(page, name) {
  await acksReceived(page, ctx.nd);
  const n = opens(await rec(page, name));
  await page.evaluate((c) => window.clients[c].reconnect(), name);
  await waitRec(page, name, (x) => opens(x) > n, 10000, `${name} reconnected`);
  return settle(page, name);
}

/** records every notification a type handler got: {id, type, text, priority, group} */
const recordHandlers = (client, rec) => {
  rec.handled = [];
  rec.failOnce = new Set();
  const h = (data, msg) => {
    rec.handled.push({ id: msg.message_id, type: msg.type, text: data.message, priority: msg.priority || 'normal', group: msg.group || null });
    if (data.message === 'fail once' && !rec.failOnce.has(msg.message_id)) {
      rec.failOnce.add(msg.message_id);
      throw new Error('handler failed on purpose');
    }
  };
  client.on('system_notification', h);
  client.on('plan_expired', async (data, msg) => {
    h(data, msg);
    await new Promise((resolve) => setTimeout(resolve, 20)); // an async handler: its ack waits for it
  });
};

async function planExpired(nd, userId, message) {
  const r = await nd.rest('POST', '/api/websocket/plan/expired', { user_id: userId, plan_name: 'pro', expires_at: 1800000000, message });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data;
}

describe('browser module: batch frames', { skip: !ctx && 'chromium or playwright-core missing', timeout: 120000 }, () => {
  test('kept messages arrive in a batch frame: each reaches its on(type) handler in order and is acked', async () => {
    const { nd, page } = ctx;
    const sent = [
      await nd.notify('ba', 'one'),
      await nd.notify('ba', 'two', { priority: 'high', group: 'billing' }),
      await planExpired(nd, 'ba', 'three'),
      await nd.notify('ba', 'four', { group: 'billing' }),
      await nd.notify('ba', 'five'),
    ];
    for (const s of sent) assert.equal(s.stored, true, 'the user is offline: kept');
    const ids = sent.map((s) => s.message_id);

    await makeClient(page, 'b', { url: nd.wsUrl, token: token('ba'), ack: true, batch: true }, recordHandlers);
    const d = await connect(page, 'b');
    assert.equal(d.batch, true, 'connected says batch mode');
    assert.equal(d.ack, true);
    let x = await waitRec(page, 'b', (r) => r.handled.length >= 5 && acked(r).length >= 5, 10000, 'five handled and acked');
    assert.match(x.urls[0], /[?&]batch=1(&|$)/);
    assert.ok(batches(x).length >= 1, `at least one batch frame: ${JSON.stringify(x.frames)}`);
    assert.ok(batches(x).some((f) => f.ids.length >= 2 && f.ids.every((id) => ids.includes(id))), 'kept messages packed together');
    assert.deepEqual(x.frames.filter((f) => f.ids.some((id) => ids.includes(id))).flatMap((f) => f.ids), ids, 'each id in exactly one frame, in order');

    assert.deepEqual(x.handled.map((h) => h.id), ids, 'handlers ran one message at a time, in order');
    assert.deepEqual(x.handled.map((h) => h.type), ['system_notification', 'system_notification', 'plan_expired', 'system_notification', 'system_notification']);
    assert.deepEqual(x.handled.map((h) => h.text), ['one', 'two', 'three', 'four', 'five']);
    assert.deepEqual(x.handled.map((h) => h.priority), ['normal', 'high', 'normal', 'normal', 'normal']);
    assert.deepEqual(x.handled.map((h) => h.group), [null, 'billing', null, 'billing', null]);
    assert.deepEqual(notes(x).map((m) => m.message_id), ids, "'message' handlers saw each, never the batch wrapper");
    assert.ok(!x.msgs.some((m) => m.type === 'batch'));
    assert.deepEqual([...acked(x)].sort(), [...ids].sort(), 'each acked once');
    assert.equal(await page.evaluate(() => window.clients.b.lastMessageId), ids[4], 'resume point is the last id in the batch');

    x = await reconnect(page, 'b');
    assert.equal(x.handled.length, 5, 'acked: not delivered again');
    assert.deepEqual(x.dups, []);
    assert.deepEqual(x.errors, []);
    await page.evaluate(() => window.clients.b.close());
  });

  test('a handler that throws inside a batch: the others are acked, that one comes again', async () => {
    const { nd, page } = ctx;
    const ids = [];
    for (const text of ['first', 'fail once', 'third']) ids.push((await nd.notify('bb', text)).message_id);
    await makeClient(page, 'f', { url: nd.wsUrl, token: token('bb'), ack: true, batch: true }, recordHandlers);
    await connect(page, 'f');
    let x = await waitRec(page, 'f', (r) => r.handled.length >= 3 && acked(r).length >= 2, 10000, 'three handled, two acked');
    assert.ok(batches(x).some((f) => f.ids.length >= 2), 'they came batched');
    assert.deepEqual(x.handled.map((h) => h.id), ids);
    assert.deepEqual([...acked(x)].sort(), [ids[0], ids[2]].sort(), 'the failed one is not acked');
    assert.ok(x.errors.some((e) => e.code === 'handler_failed'));
    x = await reconnect(page, 'f');
    x = await waitRec(page, 'f', (r) => r.handled.length === 4 && acked(r).includes(ids[1]), 5000, 'the failed one redelivered, handled and acked');
    assert.equal(x.handled[3].id, ids[1]);
    x = await reconnect(page, 'f');
    assert.equal(x.handled.length, 4, 'all acked now');
    await page.evaluate(() => window.clients.f.close());
  });

  test('messages that come again in a batch are dropped as duplicates', async () => {
    const { nd, page } = ctx;
    const ids = [];
    for (const text of ['a', 'b', 'c']) ids.push((await nd.notify('bc', text)).message_id);
    // ack mode that acks nothing: notifyd sends the kept messages again on each connect
    await makeClient(page, 'd', { url: nd.wsUrl, token: token('bc'), ack: true, ackTypes: [], batch: true }, recordHandlers);
    await connect(page, 'd');
    let x = await waitRec(page, 'd', (r) => r.handled.length >= 3, 10000, 'three handled');
    assert.deepEqual(acked(x), []);
    x = await reconnect(page, 'd');
    x = await waitRec(page, 'd', (r) => r.dups.length >= 3, 5000, 'the three again, as duplicates');
    assert.ok(batches(x).length >= 2, 'batched both times');
    assert.deepEqual(x.dups, ids, 'dropped in order');
    assert.equal(x.handled.length, 3, 'handlers did not run twice');
    assert.equal(notes(x).length, 3, "'message' handlers did not see them twice");
    await page.evaluate(() => window.clients.d.close());
  });

  test('without batch: true there are no batch frames', async () => {
    const { nd, page } = ctx;
    const ids = [];
    for (const text of ['x', 'y', 'z']) ids.push((await nd.notify('bd', text)).message_id);
    await makeClient(page, 'n', { url: nd.wsUrl, token: token('bd') }, recordHandlers);
    const d = await connect(page, 'n');
    assert.equal(d.batch, undefined);
    const x = await waitRec(page, 'n', (r) => r.handled.length >= 3, 10000, 'three handled');
    assert.doesNotMatch(x.urls[0], /batch=/);
    assert.deepEqual(batches(x), []);
    assert.deepEqual(x.handled.map((h) => h.id), ids);
    await page.evaluate(() => window.clients.n.close());
    assert.deepEqual(ctx.pageErrors, []);
  });
});
