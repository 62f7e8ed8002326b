// The browser module in headless Chromium when the server closes a connection:
// the `disconnected` message reaches its handler, `reconnect: false`
// (DisconnectUser's default) stops the client with the server's reason,
// `reconnect: true` lets it come back; a Publish of the caller's own type
// reaches an on(type) handler with its data.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { connect, makeClient, setup, token, waitRec } from './client_lib.mjs';
import { sleep } from '../clients/notifyd_harness.mjs';

const ctx = await setup();
after(async () => { if (ctx) await ctx.cleanup(); });

const ADMIN = token('ops', { role: 'admin' });

describe('browser module: closes from the server', { skip: !ctx && 'chromium or playwright-core missing', timeout: 120000 }, () => {
  test('DisconnectUser with reconnect false: the client stops and says why', async () => {
    const { nd, page } = ctx;
    await makeClient(page, 'd1', { url: nd.wsUrl, token: token('bu1'), backoffBaseMs: 50, backoffMaxMs: 100 }, (client, rec) => {
      rec.said = [];
      client.on('disconnected', (data) => rec.said.push(data));
    });
    await connect(page, 'd1');
    const r = await nd.rest('POST', '/api/websocket/user/bu1/disconnect', { reason: 'account suspended' }, ADMIN);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.data, { user_id: 'bu1', closed: 1 });
    const got = await waitRec(page, 'd1', (x) => x.events.some((e) => e.ev === 'close'), 10000, 'the close');
    assert.deepEqual(got.said, [{ code: 4004, reason: 'account suspended', reconnect: false }]);
    const close = got.events.find((e) => e.ev === 'close');
    assert.equal(close.code, 4004);
    assert.equal(close.reason, 'account suspended');
    assert.equal(close.willReconnect, false);
    assert.equal(close.giveUp, true);
    assert.deepEqual(close.disconnected, { code: 4004, reason: 'account suspended', reconnect: false });
    // it stays down: no retry, well past several backoff periods
    await sleep(500);
    const later = await waitRec(page, 'd1', () => true, 1000, 'the record');
    assert.ok(!later.events.some((e) => e.ev === 'reconnecting'), JSON.stringify(later.events));
    assert.equal(later.urls.length, 1);
    assert.equal(await page.evaluate(() => window.clients.d1.state), 'closed');
  });

  test('DisconnectUser with reconnect true: the client comes back', async () => {
    const { nd, page } = ctx;
    await makeClient(page, 'd2', { url: nd.wsUrl, token: token('bu2'), backoffBaseMs: 50, backoffMaxMs: 100 });
    await connect(page, 'd2');
    const r = await nd.rest('POST', '/api/websocket/user/bu2/disconnect', { reason: 'rebalancing', reconnect: true }, ADMIN);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const got = await waitRec(page, 'd2', (x) => x.events.filter((e) => e.ev === 'open').length >= 2, 10000, 'a second open');
    const close = got.events.find((e) => e.ev === 'close');
    assert.equal(close.code, 4004);
    assert.equal(close.willReconnect, true);
    assert.equal(close.disconnected.reconnect, true);
    assert.ok(got.msgs.some((m) => m.type === 'disconnected' && m.data.reason === 'rebalancing'));
  });

  test('a published event of the caller\'s own type reaches on(type)', async () => {
    const { nd, page } = ctx;
    await makeClient(page, 'd3', { url: nd.wsUrl, token: token('bu3') }, (client, rec) => {
      rec.orders = [];
      client.on('order.shipped', (data, msg) => rec.orders.push({ data, id: msg.message_id }));
    });
    await connect(page, 'd3');
    const r = await nd.rest('POST', '/api/websocket/publish', { type: 'order.shipped', user_id: 'bu3', data: { order: 'A-1', price: 0.1 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const got = await waitRec(page, 'd3', (x) => x.orders.length === 1, 10000, 'the order event');
    assert.deepEqual(got.orders[0], { data: { order: 'A-1', price: 0.1 }, id: r.body.data.message_id });
  });
});
