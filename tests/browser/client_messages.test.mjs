// The browser module in headless Chromium against the real notifyd: messages and
// their handlers, ping/pong, server errors, token refresh, giving up on a close code.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { connect, makeClient, notes, rec, setup, token, waitRec } from './client_lib.mjs';
import { sleep } from '../clients/notifyd_harness.mjs';

// a fast heartbeat so pings come within the test
const ctx = await setup({ args: ['--heartbeat-interval-ms', '400', '--heartbeat-timeout-ms', '3000'] });
after(async () => { if (ctx) await ctx.cleanup(); });

describe('browser module: messages', { skip: !ctx && 'chromium or playwright-core missing', timeout: 120000 }, () => {
  test('receives each notification type; handlers get (data, envelope)', async () => {
    const { nd, page } = ctx;
    await makeClient(page, 'm', { url: nd.wsUrl, token: token('u1') }, (client, rec) => {
      rec.typed = [];
      for (const t of ['system_notification', 'batchgo_open_url', 'batchgo_progress', 'token_insufficient', 'plan_expiring']) {
        client.on(t, (data, msg) => rec.typed.push({ t, data, id: msg.message_id, user: msg.user_id }));
      }
      rec.connected = [];
      client.on('connected', (data) => rec.connected.push(data));
    });
    const data = await connect(page, 'm');
    assert.equal(data.user_id, 'u1');
    assert.match(data.client_id, /./);

    const svc = token('svc', { role: 'service' });
    const sent = [];
    sent.push((await nd.notify('u1', 'hello', { title: '系统通知', level: 'warning' })).message_id);
    let r = await nd.rest('POST', '/api/websocket/batchgo/open-url', { user_id: 'u1', task_id: 'b1', urls: ['https://example.com/a', 'https://example.com/b'], delay: 10 }, svc);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    sent.push(r.body.data.message_id);
    sent.push((await nd.progress('u1', 't1', 40)).message_id);
    r = await nd.rest('POST', '/api/websocket/token/insufficient', { user_id: 'u1', current_balance: 5, required_tokens: 10, task_type: 'batchgo', message: 'low' }, svc);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    sent.push(r.body.data.message_id);
    r = await nd.rest('POST', '/api/websocket/plan/expiring', { user_id: 'u1', plan_name: 'pro', days_left: 3, expires_at: 1900000000, message: 'soon', upgrade_url: 'https://example.com/up' }, svc);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    sent.push(r.body.data.message_id);

    const got = await waitRec(page, 'm', (x) => x.typed.length >= 5, 10000, 'five typed messages');
    assert.deepEqual(got.typed.map((x) => x.id), sent);
    assert.deepEqual(got.typed.map((x) => x.t), ['system_notification', 'batchgo_open_url', 'batchgo_progress', 'token_insufficient', 'plan_expiring']);
    assert.equal(got.typed[0].data.title, '系统通知');
    assert.equal(got.typed[0].data.level, 'warning');
    assert.deepEqual(got.typed[1].data.urls, ['https://example.com/a', 'https://example.com/b']);
    assert.equal(got.typed[2].data.progress, 40);
    assert.equal(got.typed[3].data.required_tokens, 10);
    assert.equal(got.typed[4].data.days_left, 3);
    assert.ok(got.typed.every((x) => x.user === 'u1'));
    assert.equal(got.connected.length, 1);
    // the 'message' catch-all saw them too, in order, and connected first
    assert.equal(got.msgs[0].type, 'connected');
    assert.deepEqual(notes(got).map((m) => m.message_id), sent);
    assert.equal(await page.evaluate(() => window.clients.m.lastMessageId), sent[sent.length - 1]);
    // the design's client said client_ready on open
    assert.equal(got.sent[0].type, 'client_ready');
  });

  test('answers ping with pong by itself', async () => {
    const { page } = ctx;
    const got = await waitRec(page, 'm', (x) => x.msgs.filter((m) => m.type === 'ping').length >= 2 && x.sent.filter((s) => s.type === 'pong').length >= 2, 5000, 'two pings answered');
    const pings = got.msgs.filter((m) => m.type === 'ping').length;
    const pongs = got.sent.filter((s) => s.type === 'pong').length;
    assert.ok(pongs >= pings - 1, `${pings} pings, ${pongs} pongs`);
  });

  test('server error messages reach on("error") with their code; the connection stays', async () => {
    const { nd, page } = ctx;
    await page.evaluate(() => window.clients.m.send('no_such_type', {}));
    const got = await waitRec(page, 'm', (x) => x.errors.some((e) => e.server), 5000, 'a server error');
    const e = got.errors.find((x) => x.server);
    assert.equal(e.code, 'unknown_type');
    const id = (await nd.notify('u1', 'still here')).message_id;
    await waitRec(page, 'm', (x) => x.msgs.some((m) => m.message_id === id), 5000, 'a message after the error');
    assert.equal(await page.evaluate(() => window.clients.m.state), 'open');
  });

  test('refresh(newToken) resolves on refreshed; a token for another user is refused', async () => {
    const { page } = ctx;
    const fresh = token('u1', { ttl: 7200 });
    const exp = JSON.parse(Buffer.from(fresh.split('.')[1], 'base64url')).exp;
    const res = await page.evaluate((t) => window.clients.m.refresh(t), fresh);
    assert.equal(res.expires_at, exp);
    assert.equal(await page.evaluate(() => window.clients.m.token), fresh);
    const other = token('someone-else');
    const err = await page.evaluate((t) => window.clients.m.refresh(t).then(() => null, (e) => ({ code: e.code, message: e.message })), other);
    assert.equal(err.code, 'refresh_failed');
    assert.match(err.message, /another user/);
    assert.equal(await page.evaluate(() => window.clients.m.token), fresh, 'a refused token is not kept');
    await page.evaluate(() => window.clients.m.close());
  });

  test('getToken refreshes the token before it expires: the connection outlives it', async () => {
    const { nd, page } = ctx;
    await page.evaluate(() => { window.tokenCalls = []; });
    await page.exposeFunction('mintToken', (ttl) => token('u2', { ttl }));
    await makeClient(page, 'r', { url: nd.wsUrl, token: token('u2', { ttl: 3 }), refreshAheadMs: 2000 }, (client) => {
      client.options.getToken = async (ctx) => { window.tokenCalls.push(ctx.reason); return window.mintToken(3600); };
    });
    await connect(page, 'r');
    await sleep(4500); // past the first token's exp
    const got = await rec(page, 'r');
    assert.deepEqual(await page.evaluate(() => window.tokenCalls), ['refresh']);
    assert.ok(got.msgs.some((m) => m.type === 'refreshed'), 'refreshed');
    assert.ok(!got.events.some((e) => e.ev === 'close'), JSON.stringify(got.events));
    const id = (await nd.notify('u2', 'after the first token expired')).message_id;
    await waitRec(page, 'r', (x) => x.msgs.some((m) => m.message_id === id), 5000, 'a message on the refreshed connection');
    await page.evaluate(() => window.clients.r.close());
  });

  test('gives up on 4003 only when told to (giveUpOn)', async () => {
    const { nd, page } = ctx;
    await makeClient(page, 'g1', { url: nd.wsUrl, token: token('u3', { ttl: 2 }), giveUpOn: [4003] });
    await makeClient(page, 'g2', { url: nd.wsUrl, token: token('u4', { ttl: 2 }), backoffBaseMs: 5000 });
    await connect(page, 'g1');
    await connect(page, 'g2');
    const g1 = await waitRec(page, 'g1', (x) => x.events.some((e) => e.ev === 'close' && !e.willReconnect), 15000, 'g1 to give up');
    const closes = g1.events.filter((e) => e.ev === 'close');
    const c1 = closes[closes.length - 1];
    if (closes.length > 1) {
      // seen once in ~35 loaded runs: the first close arrived as 1006 (no close frame); the client
      // then reconnected with the same token and got its 4003. Reported to the server side.
      console.log(`# note: g1 closed ${closes.length} times: ${JSON.stringify(closes)}`);
    }
    assert.ok(closes.slice(0, -1).every((e) => e.code !== 4003), 'no reconnect after a 4003');
    assert.equal(c1.code, 4003, JSON.stringify(g1.events));
    assert.equal(c1.willReconnect, false);
    assert.equal(c1.giveUp, true);
    assert.ok(g1.msgs.some((m) => m.type === 'error' && m.data.code === 'token_expired'));
    const g2 = await waitRec(page, 'g2', (x) => x.events.some((e) => e.ev === 'reconnecting'), 8000, 'g2 reconnecting after 4003');
    const c2 = g2.events.find((e) => e.ev === 'close');
    assert.equal(c2.code, 4003);
    assert.equal(c2.willReconnect, true);
    await sleep(300);
    assert.equal(await page.evaluate(() => window.clients.g1.state), 'closed');
    const evs = (await rec(page, 'g1')).events;
    const lastClose = evs.map((e) => e.ev).lastIndexOf('close');
    assert.ok(!evs.slice(lastClose).some((e) => e.ev === 'reconnecting' || e.ev === 'connecting'), 'no retry after 4003');
    await page.evaluate(() => { window.clients.g2.close(); });
    assert.deepEqual(ctx.pageErrors, []);
  });
});
