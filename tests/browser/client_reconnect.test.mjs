// The browser module in headless Chromium: reconnect after notifyd restarts,
// backoff that grows, and resume (?since=) without loss or duplicates when the
// connection is cut (through a TCP proxy) or the server restarts.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { connect, makeClient, notes, rec, settle, setup, token, waitRec } from './client_lib.mjs';
import { TcpProxy, sleep } from '../clients/notifyd_harness.mjs';

const ctx = await setup();
after(async () => {
  if (ctx && ctx.proxy) await ctx.proxy.close();
  if (ctx) await ctx.cleanup();
});

const opened = (x, n) => x.events.filter((e) => e.ev === 'open').length >= n;

/** every id once, in increasing order */
function assertExactlyOnce(ids, expected) {
  assert.equal(new Set(ids).size, ids.length, `duplicates delivered: ${ids}`);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1] < ids[i], `out of order at ${i}: ${ids}`);
  for (const id of expected) assert.ok(ids.includes(id), `lost ${id}; got ${ids}`);
}

describe('browser module: reconnect and resume', { skip: !ctx && 'chromium or playwright-core missing', timeout: 180000 }, () => {
  test('reconnects after notifyd restarts; backoff delays grow (none and full jitter)', async () => {
    const { nd, page } = ctx;
    const backoff = { backoffBaseMs: 200, backoffFactor: 2, backoffMaxMs: 1500 };
    await makeClient(page, 'a', { url: nd.wsUrl, token: token('ra'), jitter: 'none', ...backoff });
    await makeClient(page, 'b', { url: nd.wsUrl, token: token('rb'), ...backoff }); // full jitter (default)
    await connect(page, 'a');
    await connect(page, 'b');
    const before = (await nd.notify('ra', 'before the restart')).message_id;
    await waitRec(page, 'a', (x) => x.msgs.some((m) => m.message_id === before), 5000, 'a message before the restart');

    await nd.stop();
    const a = await waitRec(page, 'a', (x) => x.events.filter((e) => e.ev === 'reconnecting').length >= 6, 15000, 'six reconnect attempts');
    const b = await rec(page, 'b');
    const close = a.events.find((e) => e.ev === 'close');
    assert.equal(close.code, 1001, 'SIGTERM closes with 1001 going away');
    assert.equal(close.willReconnect, true);

    const ra = a.events.filter((e) => e.ev === 'reconnecting');
    assert.deepEqual(ra.slice(0, 6).map((e) => e.attempt), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(ra.slice(0, 6).map((e) => e.delay), [200, 400, 800, 1500, 1500, 1500], 'no jitter: base * 2^n, capped');
    // the attempts really waited that long (timestamps of consecutive attempts)
    const conns = a.events.filter((e) => e.ev === 'connecting' && e.attempt >= 1);
    for (let i = 1; i < Math.min(conns.length, 5); i++) {
      const gap = conns[i].t - conns[i - 1].t;
      assert.ok(gap >= ra[i].delay - 20, `attempt ${i + 1} came ${gap} ms after the previous, delay ${ra[i].delay}`);
    }
    const rb = b.events.filter((e) => e.ev === 'reconnecting');
    assert.ok(rb.length >= 4, JSON.stringify(rb));
    rb.forEach((e, i) => {
      assert.equal(e.cap, Math.min(1500, 200 * 2 ** i), `cap of attempt ${i + 1}`);
      assert.ok(e.delay >= 0 && e.delay <= e.cap, `full jitter: 0 <= ${e.delay} <= ${e.cap}`);
    });

    await nd.start(); // the same ports and data dir
    const a2 = await waitRec(page, 'a', (x) => opened(x, 2), 10000, 'a reconnected');
    await waitRec(page, 'b', (x) => opened(x, 2), 10000, 'b reconnected');
    const reopen = a2.events.filter((e) => e.ev === 'open')[1];
    assert.equal(reopen.resumed, true);
    assert.equal(reopen.since, before);
    assert.equal(reopen.recovered, false, 'a restarted server has no history: recovered is false');
    const afterId = (await nd.notify('ra', 'after the restart')).message_id;
    await waitRec(page, 'a', (x) => x.msgs.some((m) => m.message_id === afterId), 5000, 'a message after the restart');
    // the attempt count starts again once connected
    assert.equal(await page.evaluate(() => window.clients.a.state), 'open');
    await page.evaluate(() => { window.clients.a.close(); window.clients.b.close(); });
  });

  test('messages kept while the user was away arrive exactly once after a restart', async () => {
    const { nd, page } = ctx;
    ctx.proxy = await TcpProxy.start(nd.httpPort);
    const proxy = ctx.proxy;
    await makeClient(page, 'p', { url: proxy.wsUrl, token: token('rp'), backoffBaseMs: 100, backoffMaxMs: 400 });
    await connect(page, 'p');
    const m1 = (await nd.notify('rp', 'm1')).message_id;
    await waitRec(page, 'p', (x) => x.msgs.some((m) => m.message_id === m1), 5000, 'm1');

    proxy.block(); // the client is cut off and cannot come back
    await waitRec(page, 'p', (x) => x.events.some((e) => e.ev === 'close'), 5000, 'the client to notice');
    await nd.restart();
    const m2 = await nd.notify('rp', 'm2 while away');
    assert.equal(m2.stored, true, 'nobody connected: kept on disk');
    const r = await nd.rest('POST', '/api/websocket/token/insufficient', { user_id: 'rp', current_balance: 1, required_tokens: 2, task_type: 'batchgo', message: 'm3' });
    const m3 = r.body.data;
    assert.equal(m3.stored, true);
    proxy.unblock();
    const got = await waitRec(page, 'p', (x) => opened(x, 2) && notes(x).length >= 3, 10000, 'the kept messages');
    // m4 comes after anything still queued on the connection: a late duplicate would be seen
    const m4 = (await nd.notify('rp', 'm4 live')).message_id;
    const fin = await waitRec(page, 'p', (x) => x.msgs.some((m) => m.message_id === m4), 5000, 'm4');
    assertExactlyOnce(notes(fin).map((m) => m.message_id), [m1, m2.message_id, m3.message_id, m4]);
    assert.equal(notes(fin).length, 4);
    assert.equal(got.events.filter((e) => e.ev === 'open')[1].since, m1);
    await page.evaluate(() => window.clients.p.close());
  });

  test('resume after a cut connection: nothing lost, nothing twice (live-only types too)', async () => {
    const { nd, page, proxy } = ctx;
    await makeClient(page, 's', { url: proxy.wsUrl, token: token('rs'), backoffBaseMs: 100, backoffMaxMs: 400 });
    await connect(page, 's');
    const expected = [];
    expected.push((await nd.notify('rs', 'first')).message_id);
    await waitRec(page, 's', (x) => notes(x).length === 1, 5000, 'first');

    // away: progress (never kept for offline users) and notifications (kept)
    proxy.block();
    await waitRec(page, 's', (x) => x.events.some((e) => e.ev === 'close'), 5000, 'cut off');
    for (let i = 0; i < 10; i++) {
      expected.push(i % 2 ? (await nd.notify('rs', `away ${i}`)).message_id : (await nd.progress('rs', `task${i}`, i * 10)).message_id);
    }
    proxy.unblock();
    let got = await waitRec(page, 's', (x) => opened(x, 2) && notes(x).length >= 11, 10000, 'the gap replayed');
    const reopen = got.events.filter((e) => e.ev === 'open')[1];
    assert.equal(reopen.resumed, true);
    assert.equal(reopen.recovered, true, 'the gap was in the history');

    // cuts while messages flow: the proxy drops the connection three times mid-stream
    for (let i = 0; i < 30; i++) {
      if (i % 10 === 5) proxy.sever();
      expected.push(i % 3 ? (await nd.progress('rs', `flow${i}`, i)).message_id : (await nd.notify('rs', `flow ${i}`)).message_id);
      await sleep(15);
    }
    got = await waitRec(page, 's', (x) => notes(x).length >= expected.length && x.msgs.some((m) => m.message_id === expected[expected.length - 1]), 15000, 'every message');
    got = await settle(page, 's'); // anything still queued, a late duplicate too, is in now
    const ids = notes(got).map((m) => m.message_id);
    assertExactlyOnce(ids, expected);
    assert.equal(ids.length, expected.length, `got ${ids.length} of ${expected.length}`);
    assert.ok(got.events.filter((e) => e.ev === 'open').length >= 3, 'it reconnected after the cuts');
    await page.evaluate(() => window.clients.s.close());
    assert.deepEqual(ctx.pageErrors, []);
  });
});
