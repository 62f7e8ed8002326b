// The web console (web/) in headless Chromium against the real notifyd: the
// counts match the WebSockets really open, the form reaches a connected client,
// the live log shows a user's messages; a screenshot goes to tests/artifacts/.
//
// When this notifyd serves the console itself (GET / and /notifyd.js equal the
// files here) the page is loaded from notifyd; otherwise from a static server
// with the same layout that passes every other route, /ws included, to notifyd.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { Notifyd, TOP, artifactsDir, launchChromium, openWs, staticServer, token, waitFor, withTimeout } from '../clients/notifyd_harness.mjs';

const WEB = path.join(TOP, 'web');
const MODULE = path.join(TOP, 'clients', 'browser', 'notifyd.js');

async function servedByNotifyd(nd) {
  const want = { '/': path.join(WEB, 'index.html'), '/notifyd.js': MODULE };
  for (const f of fs.readdirSync(WEB)) want[`/${f}`] = path.join(WEB, f);
  for (const [route, file] of Object.entries(want)) {
    const res = await fetch(nd.httpUrl + route).catch(() => null);
    if (!res || res.status !== 200) return false;
    if (!Buffer.from(await res.arrayBuffer()).equals(fs.readFileSync(file))) return false;
  }
  return true;
}

const browser = await launchChromium();
const nd = browser ? await Notifyd.start().catch(async (e) => { await browser.close(); throw e; }) : null;
let web = null;
let origin = null;
if (nd) {
  if (await servedByNotifyd(nd)) {
    origin = nd.httpUrl;
  } else {
    const files = { '/': path.join(WEB, 'index.html'), '/notifyd.js': MODULE };
    for (const f of fs.readdirSync(WEB)) files[`/${f}`] = path.join(WEB, f);
    web = await staticServer(files, { proxyPort: nd.httpPort });
    origin = web.url;
  }
  console.log(`# console served by ${web ? 'a static server in front of notifyd' : 'notifyd'} at ${origin}`);
}
const sockets = [];
after(async () => {
  for (const s of sockets) await s.close().catch(() => {});
  if (browser) await withTimeout(browser.close(), 20000, 'Chromium to close').catch(() => {});
  if (web) await web.close();
  if (nd) {
    await nd.stop();
    await nd.cleanup();
  }
});

const text = (page, sel) => page.locator(sel).textContent();

describe('web console', { skip: !browser && 'chromium or playwright-core missing', timeout: 120000 }, () => {
  let page;
  const pageErrors = [];

  test('loads from / with the browser module, and asks for an admin token', async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e));
    page.on('console', (m) => {
      // the 400 and 403 answers the tests provoke are logged by Chromium too
      if (m.type() === 'error' && !/status of 40[03]/.test(m.text())) pageErrors.push(new Error(`${m.text()} ${m.location().url}`));
    });
    await page.goto(origin + '/');
    await page.waitForSelector('html[data-ready="true"]', { timeout: 10000 });
    assert.equal(await page.inputValue('#server'), origin, 'the notifyd base URL defaults to the page origin');
    await page.waitForSelector('#stats-error:not([hidden])', { timeout: 5000 });
    assert.match(await text(page, '#stats-error'), /admin token/);
    await waitFor(async () => (await text(page, '#server-status')) === 'ready', 5000, 'readyz shown');
  });

  test('a bad admin token shows the server\'s error', async () => {
    await page.fill('#admin-token', token('ops', { role: 'user' }));
    await page.click('#settings button[type=submit]');
    await waitFor(async () => /HTTP 403/.test(await text(page, '#stats-error')), 5000, 'a 403 shown');
  });

  test('counts and online users match the WebSockets really open', async () => {
    await page.fill('#admin-token', token('ops', { role: 'admin' }));
    await page.click('#settings button[type=submit]');
    await waitFor(async () => (await text(page, '#stat-connections')) === '0', 5000, '0 connections');
    sockets.push(await openWs(nd.wsUrl, token('alice')));
    sockets.push(await openWs(nd.wsUrl, token('alice')));
    sockets.push(await openWs(nd.wsUrl, token('bob')));
    sockets.push(await openWs(nd.wsUrl, token('carol')));
    const real = await nd.stats();
    assert.equal(real.total_connections, 4);
    await waitFor(async () => (await text(page, '#stat-connections')) === '4' && (await text(page, '#stat-users')) === '3', 8000, 'the page to show 4 connections, 3 users');
    const users = await page.locator('#online-users .user').allTextContents();
    assert.deepEqual(users, real.connected_users);
    assert.deepEqual(users, ['alice', 'bob', 'carol']);
    assert.equal(await page.locator('#stats-error').isHidden(), true);

    await sockets.pop().close(); // carol leaves
    await waitFor(async () => (await text(page, '#stat-connections')) === '3' && (await text(page, '#stat-users')) === '2', 8000, 'the page to show 3 connections, 2 users');
    assert.deepEqual(await page.locator('#online-users .user').allTextContents(), ['alice', 'bob']);
  });

  test('the form sends a system notification that reaches the user\'s connections', async () => {
    await page.locator('#online-users li', { hasText: 'alice' }).locator('button.pick').click();
    assert.equal(await page.inputValue('#send-user'), 'alice');
    assert.equal(await page.inputValue('#publish-to'), 'alice');
    await page.fill('#send-title-input', '系统通知');
    await page.fill('#send-message', 'maintenance at 22:00 <b>tonight</b>');
    await page.selectOption('#send-level', 'warning');
    await page.fill('#send-action', 'Details');
    await page.fill('#send-action-url', 'https://example.com/maintenance');
    await page.click('#send-notification');
    await waitFor(async () => /reached/.test(await text(page, '#send-result')), 5000, 'the send result');
    const result = await text(page, '#send-result');
    const id = result.match(/[0-9a-f]{16}/)[0];
    assert.match(result, /reached 2 connection\(s\)/);
    for (const s of sockets.slice(0, 2)) {
      const m = await waitFor(() => s.messages.find((x) => x.message_id === id), 5000, 'alice to get it');
      assert.equal(m.type, 'system_notification');
      assert.equal(m.user_id, 'alice');
      assert.deepEqual(m.data, { title: '系统通知', message: 'maintenance at 22:00 <b>tonight</b>', level: 'warning', action: 'Details', action_url: 'https://example.com/maintenance' });
    }
    assert.ok(!sockets[2].messages.some((x) => x.message_id === id), 'bob did not get alice\'s message');
  });

  test('the test-message button sends a test notification', async () => {
    await page.fill('#send-user', 'bob');
    await page.click('#send-test');
    await waitFor(async () => /test message [0-9a-f]{16} reached 1/.test(await text(page, '#send-result')), 5000, 'the test result');
    const m = await waitFor(() => sockets[2].messages.find((x) => x.type === 'system_notification' && x.data.test === true), 5000, 'bob to get the test message');
    assert.equal(m.user_id, 'bob');
    // an invalid field comes back with the server's words
    await page.fill('#send-user', 'bad user!');
    await page.fill('#send-message', 'x');
    await page.click('#send-notification');
    await waitFor(async () => /failed: HTTP 400: user_id/.test(await text(page, '#send-result')), 5000, 'the 400 shown');
  });

  test('the live log shows a user\'s messages as they arrive', async () => {
    await page.fill('#live-token', token('dave'));
    await page.click('#live-connect');
    await waitFor(async () => /connected as dave/.test(await text(page, '#live-status')), 8000, 'the live log connected');
    await waitFor(async () => (await text(page, '#stat-connections')) === '4', 8000, 'the console\'s own connection counted');
    await page.fill('#send-user', 'dave');
    await page.fill('#send-title-input', 'Hello');
    await page.fill('#send-message', 'to the live log');
    await page.selectOption('#send-level', 'success');
    await page.fill('#send-action', '');
    await page.fill('#send-action-url', '');
    await page.click('#send-notification');
    await waitFor(async () => /reached 1 connection/.test(await text(page, '#send-result')), 5000, 'sent to dave');
    const id = (await text(page, '#send-result')).match(/[0-9a-f]{16}/)[0];
    const entry = page.locator(`#live-log li[data-message-id="${id}"]`);
    await entry.waitFor({ timeout: 5000 });
    assert.match(await entry.textContent(), /system_notification/);
    assert.match(await entry.textContent(), /to the live log/);
    // a progress update (sent from the backend) shows up too
    const p = await nd.progress('dave', 'task-7', 60);
    await page.locator(`#live-log li[data-message-id="${p.message_id}"]`).waitFor({ timeout: 5000 });
    // the markup in a message is shown as text, never as HTML
    assert.equal(await page.locator('#live-log b').count(), 0);

    const shot = path.join(artifactsDir(), 'console.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(fs.statSync(shot).size > 10000, 'a screenshot with something in it');
    console.log(`# screenshot: ${shot}`);

    await page.click('#live-disconnect');
    await waitFor(async () => (await text(page, '#stat-connections')) === '3', 8000, 'the console\'s connection gone');
    // watching did not consume dave's kept message: his own tab still gets it
    assert.match(await text(page, '#send-result'), /kept for later/);
    const dave = await openWs(nd.wsUrl, token('dave'));
    sockets.push(dave);
    await waitFor(() => dave.messages.some((m) => m.message_id === id), 5000, 'the kept message on dave\'s own connection');
    assert.deepEqual(pageErrors.map(String), []);
  });

  test('the publish form sends an event of any type, data as written', async () => {
    const [a1, a2] = sockets;
    await page.fill('#publish-type', 'order.shipped');
    await page.fill('#publish-to', 'alice');
    await page.fill('#publish-data', '{"order": "A-1", "price": 0.10, "n": 12345678901234567890}');
    await page.selectOption('#publish-priority', 'high');
    await page.fill('#publish-group', 'orders');
    await page.click('#publish-send');
    await waitFor(async () => /reached/.test(await text(page, '#publish-result')), 5000, 'the publish result');
    const result = await text(page, '#publish-result');
    assert.match(result, /^order\.shipped [0-9a-f]{16} reached 2 connection\(s\)/);
    const id = result.match(/[0-9a-f]{16}/)[0];
    for (const s of [a1, a2]) {
      const m = await waitFor(() => s.messages.find((x) => x.message_id === id), 5000, 'alice to get the event');
      assert.deepEqual([m.type, m.priority, m.group, m.data.order, m.data.price], ['order.shipped', 'high', 'orders', 'A-1', 0.1]);
    }
    // several users; a reserved type and data that is not an object come back with the words
    await page.fill('#publish-to', 'alice, nobody-here');
    await page.selectOption('#publish-store', 'always');
    await page.click('#publish-send');
    await waitFor(async () => /to 2 user\(s\): 1 reached on 2 connection\(s\), 1 kept for later/.test(await text(page, '#publish-result')), 5000, 'the multicast result');
    await page.fill('#publish-type', 'ping');
    await page.click('#publish-send');
    await waitFor(async () => /publish failed: HTTP 400: type "ping" is one of notifyd's own/.test(await text(page, '#publish-result')), 5000, 'the 400 shown');
    await page.fill('#publish-type', 'order.shipped');
    await page.fill('#publish-data', '[1, 2]');
    await page.click('#publish-send');
    await waitFor(async () => /data is not a JSON object/.test(await text(page, '#publish-result')), 5000, 'the data error shown');
  });

  test('the disconnect button closes every connection of that user with 4004', async () => {
    const bob = sockets[2];
    const closed = new Promise((r) => bob.ws.once('close', (code, reason) => r([code, reason.toString()])));
    await page.locator('#online-users li', { hasText: 'bob' }).locator('button.kick').click();
    await waitFor(async () => /bob: 1 connection\(s\) closed/.test(await text(page, '#online-result')), 5000, 'the disconnect result');
    assert.deepEqual(await withTimeout(closed, 5000, 'bob closed'), [4004, 'disconnected from the notifyd console']);
    const m = bob.messages.find((x) => x.type === 'disconnected');
    assert.deepEqual(m.data, { code: 4004, reason: 'disconnected from the notifyd console', reconnect: false });
    await waitFor(async () => !(await page.locator('#online-users .user').allTextContents()).includes('bob'), 8000, 'bob gone from the list');
    assert.deepEqual(pageErrors.map(String), []);
  });
});
