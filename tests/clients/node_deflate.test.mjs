// permessage-deflate with npm ws (perMessageDeflate: true) against the real
// notifyd: negotiated with NOTIFYD_WS_DEFLATE=on (not with off), REST unicast
// and broadcast, a ~40 KB message and non-ASCII text arrive intact, compressed
// client messages are answered, a message over NOTIFYD_MAX_FRAME_BYTES once
// inflated is closed with 1009.
//
//   NOTIFYD_BIN=build/notifyd node --test tests/clients/node_deflate.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { WebSocket } from 'ws';

import { Notifyd, token, waitFor, withTimeout } from './notifyd_harness.mjs';

/** Opens a ws client offering permessage-deflate; resolves once "connected" arrived. */
async function open(nd, user) {
  const ws = new WebSocket(`${nd.wsUrl}?token=${encodeURIComponent(token(user))}`, { perMessageDeflate: true });
  const messages = [];
  let closed = null;
  ws.on('message', (d) => messages.push(JSON.parse(d.toString())));
  ws.on('close', (code) => { closed = { code }; });
  const headers = await withTimeout(new Promise((resolve, reject) => {
    ws.once('upgrade', (res) => resolve(res.headers));
    ws.once('error', reject);
  }), 10000, `${user}: the upgrade`);
  await waitFor(() => messages.some((m) => m.type === 'connected'), 10000, `${user}: "connected"`);
  return {
    ws, messages, headers, closed: () => closed,
    byType: (type, n = 1) => waitFor(() => { const got = messages.filter((m) => m.type === type); return got.length >= n && got; }, 10000, `${user}: ${n} ${type}`),
    close: () => new Promise((r) => { if (ws.readyState === WebSocket.CLOSED) r(); else { ws.once('close', r); ws.close(); } }),
  };
}

describe('NOTIFYD_WS_DEFLATE=on', { timeout: 90000 }, () => {
  let nd;
  before(async () => { nd = await Notifyd.start({ env: { NOTIFYD_WS_DEFLATE: 'on', NOTIFYD_MAX_FRAME_BYTES: '32KiB' } }); });
  after(async () => { if (nd) { await nd.stop(); await nd.cleanup(); } });

  test('negotiated; unicast, broadcast, large and unicode messages intact', async () => {
    const a = await open(nd, 'na');
    const b = await open(nd, 'nb');
    try {
      assert.match(a.headers['sec-websocket-extensions'] || '', /^permessage-deflate/);
      assert.equal(a.ws.extensions, 'permessage-deflate');

      const text = '进度更新 ✅ — Ünïcödé 🚀 '.repeat(30);
      await nd.notify('na', text, { title: '标题' });
      const [m] = await a.byType('system_notification');
      assert.equal(m.data.message, text);
      assert.equal(m.data.title, '标题');

      const r = await nd.rest('POST', '/api/websocket/broadcast', { title: 'all', message: 'for everyone 👋', level: 'info' });
      assert.equal(r.status, 200);
      for (const c of [a, b]) {
        const got = await c.byType('system_notification', c === a ? 2 : 1);
        assert.equal(got.at(-1).data.message, 'for everyone 👋');
      }

      // ~40 KB of barely compressible URLs, over many deflate buffers
      let seed = 1;
      const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed; };
      const abc = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
      const urls = Array.from({ length: 100 }, () => 'https://example.com/' + Array.from({ length: 400 }, () => abc[rnd() % abc.length]).join(''));
      const big = await nd.rest('POST', '/api/websocket/batchgo/open-url', { user_id: 'nb', task_id: 'big', urls, delay: 10 });
      assert.equal(big.status, 200, JSON.stringify(big.body));
      const [open_url] = await b.byType('batchgo_open_url');
      assert.deepEqual(open_url.data.urls, urls);
      assert.ok(JSON.stringify(open_url).length > 40000);

      // client messages: ws compresses those over its 1 KiB threshold
      for (let i = 0; i < 5; i++) a.ws.send(JSON.stringify({ type: 'ping', pad: 'p'.repeat(2000 + i) }));
      await a.byType('pong', 5);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('a message over the limit once inflated is closed with 1009', async () => {
    const c = await open(nd, 'nz');
    c.ws.send(JSON.stringify({ type: 'ping', pad: 'z'.repeat(4 << 20) })); // ~4 KB on the wire
    await waitFor(() => c.closed(), 10000, 'the close');
    assert.equal(c.closed().code, 1009);
    const d = await open(nd, 'nz2'); // still serving
    await d.close();
  });
});

test('NOTIFYD_WS_DEFLATE=off: the offer is declined', { timeout: 60000 }, async () => {
  const nd = await Notifyd.start({ env: { NOTIFYD_WS_DEFLATE: 'off' } });
  try {
    const a = await open(nd, 'plain');
    assert.equal(a.headers['sec-websocket-extensions'], undefined);
    assert.equal(a.ws.extensions, '');
    await nd.notify('plain', 'not compressed');
    const [m] = await a.byType('system_notification');
    assert.equal(m.data.message, 'not compressed');
    await a.close();
  } finally {
    await nd.stop();
    await nd.cleanup();
  }
});
