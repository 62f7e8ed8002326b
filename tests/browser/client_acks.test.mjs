// The browser module's ack mode (?ack=1) in headless Chromium, against the
// README's delivery guarantees: kept messages stay kept until acked and come
// again (same message_id) on each reconnect until then.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { acksReceived, connect, makeClient, notes, rec, settle, setup, token, waitRec } from './client_lib.mjs';
import { TcpProxy } from '../clients/notifyd_harness.mjs';

const ctx = await setup();
after(async () => {
  if (ctx && ctx.proxy) await ctx.proxy.close();
  if (ctx) await ctx.cleanup();
});

const opens = (x) => x.events.filter((e) => e.ev === 'open').length;
const acked = (x) => x.sent.filter((s) => s.type === 'ack').map((s) => s.data.message_id);
const count = (x, id) => x.msgs.filter((m) => m.message_id === id).length;

/** reconnect() -- once notifyd has the acks sent so far -- and wait until the replay has arrived */
async function reconnect(page, name) {
  await acksReceived(page, ctx.nd);
  const n = opens(await rec(page, name));
  await page.evaluate((c) => window.clients[c].reconnect(), name);
  await waitRec(page, name, (x) => opens(x) > n, 10000, `${name} reconnected`);
  return settle(page, name);
}

describe('browser module: acks', { skip: !ctx && 'chromium or playwright-core missing', timeout: 120000 }, () => {
  test('acked after the handler ran: not redelivered', async () => {
    const { nd, page } = ctx;
    ctx.proxy = await TcpProxy.start(nd.httpPort);
    await makeClient(page, 'k', { url: ctx.proxy.wsUrl, token: token('ka'), ack: true, backoffBaseMs: 100, backoffMaxMs: 300 }, (client, rec) => {
      rec.calls = {};
      rec.failOnce = new Set();
      rec.hold = new Map();
      client.on('system_notification', async (data, msg) => {
        rec.calls[msg.message_id] = (rec.calls[msg.message_id] || 0) + 1;
        if (data.message === 'fail once' && !rec.failOnce.has(msg.message_id)) {
          rec.failOnce.add(msg.message_id);
          throw new Error('handler failed on purpose');
        }
        if (data.message === 'slow') {
          await new Promise((resolve) => { window.releaseSlow = resolve; });
          rec.slowDone = msg.message_id; // the ack is tried next, in this turn
        }
      });
    });
    const d = await connect(page, 'k');
    assert.equal(d.ack, true, 'connected says ack mode');
    const n1 = await nd.notify('ka', 'plain');
    assert.equal(n1.stored, true, 'a message only ack-mode clients received is kept');
    let x = await waitRec(page, 'k', (r) => acked(r).includes(n1.message_id), 5000, 'the ack of n1');
    assert.equal(x.calls[n1.message_id], 1);
    // live-only types are never kept, so they are not acked
    const p = (await nd.progress('ka', 'tk', 50)).message_id;
    await waitRec(page, 'k', (r) => count(r, p) === 1, 5000, 'progress');
    x = await reconnect(page, 'k');
    assert.equal(count(x, n1.message_id), 1, 'n1 not redelivered after its ack');
    assert.ok(!acked(x).includes(p), 'progress not acked');
    assert.deepEqual(x.dups, []);
  });

  test('a handler that throws leaves the message un-acked: it comes again and runs again', async () => {
    const { nd, page } = ctx;
    const n2 = (await nd.notify('ka', 'fail once')).message_id;
    let x = await waitRec(page, 'k', (r) => r.calls[n2] === 1 && r.errors.some((e) => e.code === 'handler_failed'), 5000, 'n2 handled once, failing');
    assert.ok(!acked(x).includes(n2));
    await reconnect(page, 'k');
    x = await waitRec(page, 'k', (r) => r.calls[n2] === 2 && acked(r).includes(n2), 5000, 'n2 redelivered (same id), handled again and acked');
    x = await reconnect(page, 'k');
    assert.equal(x.calls[n2], 2, 'acked now: not again');
    assert.equal(count(x, n2), 2);
  });

  test('handled but the ack was lost: redelivered, dropped as a duplicate, acked again', async () => {
    const { nd, page, proxy } = ctx;
    const n3 = (await nd.notify('ka', 'slow')).message_id;
    const closes = (r) => r.events.filter((e) => e.ev === 'close').length;
    const closed = closes(await waitRec(page, 'k', (r) => r.calls[n3] === 1, 5000, 'n3 handler started'));
    proxy.block(); // the connection dies while the handler runs
    await waitRec(page, 'k', (r) => closes(r) > closed, 5000, 'cut off');
    await page.evaluate(() => window.releaseSlow()); // the handler ends: no socket for its ack
    let x = await waitRec(page, 'k', (r) => r.slowDone === n3, 5000, 'the slow handler ended');
    assert.ok(!acked(x).includes(n3), 'its ack could not be sent');
    const before = opens(x);
    proxy.unblock();
    await waitRec(page, 'k', (r) => opens(r) > before && r.dups.includes(n3), 10000, 'n3 redelivered and dropped');
    x = await waitRec(page, 'k', (r) => acked(r).includes(n3), 5000, 'n3 acked on the new connection');
    assert.equal(x.calls[n3], 1, 'the handler did not run twice');
    assert.equal(count(x, n3), 1, "'message' handlers did not see it twice");
    assert.ok(acked(x).includes(n3), 'acked on the new connection');
    x = await reconnect(page, 'k');
    assert.equal(x.dups.filter((id) => id === n3).length, 1, 'not redelivered after the ack');
    await page.evaluate(() => window.clients.k.close());
  });

  test('without ack mode a kept message is delivered once and then forgotten', async () => {
    const { nd, page } = ctx;
    const m = await nd.notify('kb', 'kept for later');
    assert.equal(m.stored, true, 'user offline: kept');
    await makeClient(page, 'n', { url: nd.wsUrl, token: token('kb') });
    await connect(page, 'n');
    let x = await waitRec(page, 'n', (r) => count(r, m.message_id) === 1, 5000, 'the kept message on connect');
    assert.equal(x.sent.filter((s) => s.type === 'ack').length, 0, 'no acks without ack mode');
    x = await reconnect(page, 'n');
    assert.equal(count(x, m.message_id), 1);
    assert.deepEqual(x.dups, []);
    await page.evaluate(() => window.clients.n.close());
    assert.deepEqual(ctx.pageErrors, []);
  });
});
