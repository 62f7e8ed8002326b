// The browser module in Node (20 has no global WebSocket): with the npm `ws`
// class passed as the WebSocket option it connects, receives and resumes.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { WebSocket } from 'ws';

import { NotifydClient, createClient, decodeToken, normalizeUrl } from '../../clients/browser/notifyd.js';
import { Notifyd, TcpProxy, token, waitFor } from '../clients/notifyd_harness.mjs';

const nd = await Notifyd.start();
const proxy = await TcpProxy.start(nd.httpPort);
after(async () => {
  await proxy.close();
  await nd.stop();
  await nd.cleanup();
});

test('helpers: URLs and token decoding', () => {
  assert.equal(normalizeUrl('http://h:8080').href, 'ws://h:8080/ws');
  assert.equal(normalizeUrl('https://h/').href, 'wss://h/ws');
  assert.equal(normalizeUrl('ws://h:1/custom').href, 'ws://h:1/custom');
  assert.throws(() => normalizeUrl('ftp://h'), TypeError);
  assert.equal(decodeToken(token('42')).user_id, '42');
  assert.equal(decodeToken('garbage'), null);
  if (typeof globalThis.WebSocket !== 'function') {
    assert.throws(() => new NotifydClient({ token: 'x' }), /no WebSocket here/);
  }
});

test('works in Node with the ws class: receive, cut, resume, close', { timeout: 60000 }, async () => {
  const client = createClient({ url: proxy.wsUrl, token: token('n1'), WebSocket, backoffBaseMs: 50, backoffMaxMs: 200 });
  const got = [];
  const events = [];
  client.on('system_notification', (data, msg) => { got.push(msg.message_id); });
  for (const e of ['open', 'close', 'reconnecting']) client.on(e, (d) => events.push([e, d]));
  const data = await client.connect();
  assert.equal(data.user_id, 'n1');
  const a = (await nd.notify('n1', 'a')).message_id;
  await waitFor(() => got.includes(a), 5000, 'a');
  proxy.block();
  await waitFor(() => client.state === 'waiting' || client.state === 'connecting', 5000, 'the cut noticed');
  const b = (await nd.notify('n1', 'b')).message_id;
  const c = (await nd.notify('n1', 'c')).message_id;
  proxy.unblock();
  await waitFor(() => got.includes(c), 10000, 'b and c after the resume');
  assert.deepEqual(got, [a, b, c]);
  const reopen = events.filter(([e]) => e === 'open')[1][1];
  assert.equal(reopen.since, a);
  assert.equal(reopen.recovered, true);
  client.close();
  assert.equal(client.state, 'closed');
  const last = events[events.length - 1];
  assert.equal(last[0], 'close');
  assert.equal(last[1].willReconnect, false);
});

test('the feed: feed.list(), feed.counts(), feed.mark() and feed_update on every tab', { timeout: 60000 }, async () => {
  const one = createClient({ url: proxy.wsUrl, token: token('nf'), WebSocket });
  const two = createClient({ url: nd.wsUrl || proxy.wsUrl, token: token('nf'), WebSocket });
  const updates = [[], []];
  one.on('feed_update', (data) => { updates[0].push(data); });
  two.on('feed_update', (data) => { updates[1].push(data); });
  await one.connect();
  await two.connect();
  const a = (await nd.notify('nf', 'a')).message_id;
  const b = (await nd.notify('nf', 'b')).message_id;
  const page = await one.feed.list({ limit: 1 });
  assert.deepEqual(page.items.map((i) => i.id), [b]);
  assert.equal(page.next_before, b);
  assert.equal(page.items[0].data.message, 'b');
  assert.deepEqual((await two.feed.list({ before: page.next_before })).items.map((i) => i.id), [a]);
  assert.deepEqual(await two.feed.counts(), { total: 2, unseen: 2, unread: 2 });
  const r = await one.feed.mark({ ids: [a], action: 'read' });
  assert.deepEqual(r, { updated: 1, counts: { total: 2, unseen: 1, unread: 1 } });
  await waitFor(() => updates[0].length === 1 && updates[1].length === 1, 5000, 'feed_update on both tabs');
  assert.deepEqual(updates[1][0], { ids: [a], action: 'read', counts: { total: 2, unseen: 1, unread: 1 } });
  await assert.rejects(one.feed.mark({ action: 'read' }), /ids/);
  await assert.rejects(one.feed.list({ filter: 'bogus' }), /filter/);
  const e = await one.feed.list({ limit: 500 }).catch((x) => x);
  assert.equal(e.status, 400);
  assert.match(e.message, /limit/);
  one.close();
  two.close();
});
