// The web console (web/) in headless Chromium against the real notifyd: the
// counts match the WebSockets really open, the forms reach connected clients
// (one user, several, everyone; priority, group, templates), the templates are
// managed, a user's backlog is shown, a user's feed is listed, paged and marked
// (read, unread, archive, every item), the live log shows a user's messages;
// the page fits a phone (390 px) and a desktop (1280 px) without horizontal
// overflow. Screenshots go to NOTIFYD_ARTIFACTS_DIR (ctest: build/artifacts/).
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
const others = []; // sockets the later tests do not count on
after(async () => {
  for (const s of [...sockets, ...others]) await s.close().catch(() => {});
  if (browser) await withTimeout(browser.close(), 20000, 'Chromium to close').catch(() => {});
  if (web) await web.close();
  if (nd) {
    await nd.stop();
    await nd.cleanup();
  }
});

const text = (page, sel) => page.locator(sel).textContent();

/** The hint's colours and the error class's, as computed (hidden elements too). */
function hintStyle(page, hintSel) {
  return page.evaluate((sel) => {
    const hint = document.querySelector(sel);
    const probe = document.createElement('p');
    probe.className = 'error';
    probe.hidden = true;
    document.body.append(probe);
    const css = (el) => { const c = getComputedStyle(el); return { color: c.color, background: c.backgroundColor }; };
    const out = { classes: [...hint.classList], hint: css(hint), error: css(probe) };
    probe.remove();
    return out;
  }, hintSel);
}

/** What sticks out sideways: the page wider than the window, a visible panel or
 * card (or a form, row, result or hint in one) whose content is wider than its
 * box, or any visible element past the window's right edge. [] when none. */
function overflows(page) {
  return page.evaluate(() => {
    const out = [];
    const name = (el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.trim().replace(/\s+/g, '.')}` : ''}`;
    const width = window.innerWidth;
    const de = document.documentElement;
    if (de.scrollWidth > width) out.push(`document scrollWidth ${de.scrollWidth} > innerWidth ${width}`);
    if (document.body.scrollWidth > width) out.push(`body scrollWidth ${document.body.scrollWidth} > innerWidth ${width}`);
    const seen = (el) => el.getClientRects().length > 0;
    for (const el of document.querySelectorAll('.top, .settings, .panel, .card, .cards, form, .buttons, .result, .notice, .error, .facts, .users, .templates, .log, .feed, .feed li, .feed .head')) {
      if (seen(el) && el.scrollWidth > el.clientWidth) out.push(`${name(el)} scrollWidth ${el.scrollWidth} > clientWidth ${el.clientWidth}`);
    }
    for (const el of document.querySelectorAll('body *')) {
      if (!seen(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > width + 0.5) out.push(`${name(el)} right edge ${Math.round(r.right)} > ${width}`);
    }
    return out;
  });
}

describe('web console', { skip: !browser && 'chromium or playwright-core missing', timeout: 120000 }, () => {
  let page;
  const pageErrors = [];

  test('loads from / with the browser module, and asks for an admin token', async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => pageErrors.push(e));
    page.on('console', (m) => {
      // the 400 and 403 answers the tests provoke are logged by Chromium too
      if (m.type() === 'error' && !/status of 40[03]/.test(m.text())) pageErrors.push(new Error(`${m.text()} ${m.location().url}`));
    });
    await page.goto(origin + '/');
    await page.waitForSelector('html[data-ready="true"]', { timeout: 10000 });
    assert.equal(await page.inputValue('#server'), origin, 'the notifyd base URL defaults to the page origin');
    // the way to start is a hint, not an error
    await page.waitForSelector('#stats-hint:not([hidden])', { timeout: 5000 });
    assert.match(await text(page, '#stats-hint'), /admin token/);
    assert.equal(await page.locator('#stats-error').isHidden(), true);
    assert.match(await text(page, '#templates-hint'), /admin token/);
    assert.match(await text(page, '#feed-hint'), /admin token/);
    assert.equal(await page.locator('#feed-view').isHidden(), true);
    for (const sel of ['#stats-hint', '#templates-hint', '#feed-hint']) {
      const st = await hintStyle(page, sel);
      assert.ok(!st.classes.includes('error'), `${sel} is not of the error class: ${st.classes}`);
      assert.notEqual(st.hint.color, st.error.color, `${sel}'s colour is not the error colour`);
      assert.notEqual(st.hint.background, st.error.background, `${sel}'s background is not the error background`);
    }
    await waitFor(async () => (await text(page, '#server-status')) === 'ready', 5000, 'readyz shown');
  });

  test('a bad admin token shows the server\'s error', async () => {
    await page.fill('#admin-token', token('ops', { role: 'user' }));
    await page.click('#settings button[type=submit]');
    await waitFor(async () => /HTTP 403/.test(await text(page, '#stats-error')), 5000, 'a 403 shown');
    assert.equal(await page.locator('#stats-hint').isHidden(), true);
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

  test('a broadcast and a multicast, with priority and group, reach real WebSockets', async () => {
    const open = sockets.filter((s) => s.ws.readyState === 1); // alice twice, dave
    assert.equal(open.length, 3);
    // everyone: the recipients field is off, and so is the test message
    await page.check('#send-everyone');
    assert.equal(await page.isDisabled('#send-user'), true);
    assert.equal(await page.isDisabled('#send-test'), true);
    await page.fill('#send-title-input', 'Maintenance');
    await page.fill('#send-message', 'down at 22:00 for 5 minutes');
    await page.selectOption('#send-level', 'warning');
    await page.selectOption('#send-priority', 'urgent');
    await page.fill('#send-group', 'maintenance');
    await page.click('#send-notification');
    await waitFor(async () => /^broadcast [0-9a-f]{16} reached/.test(await text(page, '#send-result')), 5000, 'the broadcast result');
    let result = await text(page, '#send-result');
    assert.equal(await page.getAttribute('#send-result', 'data-ok'), 'true');
    assert.match(result, /reached 3 connection\(s\)$/, 'a broadcast is never kept');
    const bid = result.match(/[0-9a-f]{16}/)[0];
    for (const s of open) {
      const m = await waitFor(() => s.messages.find((x) => x.message_id === bid), 5000, 'every connection to get the broadcast');
      assert.deepEqual([m.type, m.priority, m.group], ['system_notification', 'urgent', 'maintenance']);
      assert.deepEqual(m.data, { title: 'Maintenance', message: 'down at 22:00 for 5 minutes', level: 'warning', action: '', action_url: '' });
    }

    // several users, one of them offline: each their own id, in order
    await page.uncheck('#send-everyone');
    assert.equal(await page.isDisabled('#send-user'), false);
    await page.fill('#send-user', ' alice, erin ,alice ');
    await page.fill('#send-title-input', 'Invoice');
    await page.fill('#send-message', 'your invoice is ready');
    await page.selectOption('#send-level', 'info');
    await page.selectOption('#send-priority', 'high');
    await page.fill('#send-group', 'billing');
    await page.click('#send-notification');
    await waitFor(async () => /^notification to 2 user/.test(await text(page, '#send-result')), 5000, 'the multicast result');
    result = await text(page, '#send-result');
    assert.match(result, /^notification to 2 user\(s\): 1 reached on 2 connection\(s\), 1 kept for later \([0-9a-f]{16} [0-9a-f]{16}\)$/);
    const [aliceId, erinId] = result.match(/[0-9a-f]{16}/g);
    for (const s of open.slice(0, 2)) {
      const m = await waitFor(() => s.messages.find((x) => x.message_id === aliceId), 5000, 'alice to get the multicast');
      assert.deepEqual([m.type, m.user_id, m.priority, m.group, m.data.title], ['system_notification', 'alice', 'high', 'billing', 'Invoice']);
    }
    assert.ok(!open[2].messages.some((x) => x.message_id === aliceId || x.message_id === erinId), 'dave got neither');
    const kept = await nd.rest('GET', '/api/websocket/user/erin/backlog');
    assert.deepEqual(kept.body.data, { user_id: 'erin', messages: 1, oldest_message_id: erinId, newest_message_id: erinId });

    // a normal priority is the default, so it is not in the envelope
    await page.fill('#send-user', 'dave');
    await page.selectOption('#send-priority', 'normal');
    await page.fill('#send-group', '');
    await page.click('#send-notification');
    await waitFor(async () => /^notification [0-9a-f]{16} reached 1 connection/.test(await text(page, '#send-result')), 5000, 'sent to dave');
    const did = (await text(page, '#send-result')).match(/[0-9a-f]{16}/)[0];
    const m = await waitFor(() => open[2].messages.find((x) => x.message_id === did), 5000, 'dave to get it');
    assert.equal('priority' in m || 'group' in m, false);

    // no recipient, and a bad group, come back in words
    await page.fill('#send-user', ' , ');
    await page.click('#send-notification');
    await waitFor(async () => /^To: a user id/.test(await text(page, '#send-result')), 5000, 'no recipient shown');
    assert.equal(await page.getAttribute('#send-result', 'data-ok'), 'false');
    await page.fill('#send-user', 'alice');
    // past the field's maxlength, as a script or an old page could send it
    await page.evaluate(() => document.getElementById('send-group').removeAttribute('maxlength'));
    await page.fill('#send-group', 'g'.repeat(129));
    await page.click('#send-notification');
    await waitFor(async () => /failed: HTTP 400: group/.test(await text(page, '#send-result')), 5000, 'the group error shown');
    await page.fill('#send-group', '');
    assert.deepEqual(pageErrors.map(String), []);
  });

  test('a user\'s backlog: what is kept for an offline user, and gone once they connect', async () => {
    await page.fill('#lookup-user', 'erin');
    await page.click('#lookup-send');
    await waitFor(async () => /^erin: 1 message\(s\) kept, waiting since /.test(await text(page, '#lookup-result')), 5000, 'erin\'s backlog');
    assert.equal(await text(page, '#lookup-online'), 'no');
    assert.equal(await text(page, '#lookup-backlog'), '1 message(s)');
    const first = (await text(page, '#lookup-oldest')).slice(0, 16);
    assert.equal(first, (await text(page, '#lookup-newest')).slice(0, 16));
    assert.equal(first, (await nd.rest('GET', '/api/websocket/user/erin/backlog')).body.data.oldest_message_id);

    // one more, sent from the console to the offline user
    await page.fill('#send-user', 'erin');
    await page.fill('#send-title-input', 'Reminder');
    await page.fill('#send-message', 'still waiting');
    await page.click('#send-notification');
    await waitFor(async () => /^notification [0-9a-f]{16} reached 0 connection\(s\), kept for later$/.test(await text(page, '#send-result')), 5000, 'kept for erin');
    const second = (await text(page, '#send-result')).match(/[0-9a-f]{16}/)[0];
    await page.click('#lookup-send');
    await waitFor(async () => (await text(page, '#lookup-backlog')) === '2 message(s)', 5000, 'two kept for erin');
    assert.equal((await text(page, '#lookup-oldest')).slice(0, 16), first);
    assert.equal((await text(page, '#lookup-newest')).slice(0, 16), second);

    // erin connects: both arrive, nothing is kept any more
    const erin = await openWs(nd.wsUrl, token('erin'));
    sockets.push(erin);
    await waitFor(() => erin.messages.some((m) => m.message_id === second), 5000, 'erin to get what was kept');
    assert.ok(erin.messages.some((m) => m.message_id === first));
    await page.click('#lookup-send');
    await waitFor(async () => (await text(page, '#lookup-result')) === 'erin: nothing kept', 5000, 'erin\'s backlog empty');
    assert.equal(await text(page, '#lookup-online'), 'yes, 1 connection(s)');
    assert.equal(await text(page, '#lookup-oldest'), '–');

    // a bad user id: notifyd's words, the old answer gone
    await page.fill('#lookup-user', 'bad user!');
    await page.click('#lookup-send');
    await waitFor(async () => /^bad user!: HTTP 400: user_id/.test(await text(page, '#lookup-result')), 5000, 'the 400 shown');
    assert.equal(await page.getAttribute('#lookup-result', 'data-ok'), 'false');
    assert.equal(await page.locator('#lookup-out').isHidden(), true);
    assert.deepEqual(pageErrors.map(String), []);
  });

  test('a user\'s feed: counts, items, read and unread, archive, mark all, paging, errors', async () => {
    const admin = token('ops', { role: 'admin' });
    const restFeed = async (user, query = '') => {
      const r = await nd.rest('GET', `/api/websocket/feed/${user}${query}`, null, admin);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.data;
    };
    const counts = async () => [await text(page, '#feed-total'), await text(page, '#feed-unseen'), await text(page, '#feed-unread')];
    const shown = () => page.$$eval('#feed-list li', (els) => els.map((el) => el.dataset.id));
    const idle = () => page.waitForSelector('#feed-panel[data-busy="false"]', { timeout: 5000 });

    // four system notifications (in the feed by default) and an event of your own type kept with feed: true
    const sent = [];
    for (let i = 1; i <= 4; i++) {
      const r = await nd.rest('POST', '/api/websocket/notification', {
        user_id: 'gina', title: `Invoice ${i}`, message: i === 2 ? 'due <b>today</b>' : `invoice ${i} is ready`, level: 'info',
        ...(i === 3 ? { priority: 'urgent', group: 'billing' } : {}),
      }, admin);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      sent.push(r.body.data.message_id);
    }
    const pub = await nd.rest('POST', '/api/websocket/publish', { type: 'order.shipped', user_id: 'gina', feed: true, data: { order: 'A-7' } }, admin);
    assert.equal(pub.status, 200, JSON.stringify(pub.body));
    sent.push(pub.body.data.message_id);
    const newest = [...sent].reverse();
    assert.deepEqual((await restFeed('gina')).items.map((x) => x.id), newest, 'the five are in gina\'s feed');
    // gina has a tab open: every change from the console reaches it
    const gina = await openWs(nd.wsUrl, token('gina'));
    others.push(gina);

    // the view, reached by typing a user id
    assert.equal(await page.locator('#feed-hint').isHidden(), true, 'no hint with an admin token');
    await page.fill('#feed-user', 'gina');
    await page.click('#feed-open');
    await waitFor(async () => (await shown()).length === 5, 5000, 'gina\'s five items');
    await idle();
    assert.deepEqual(await counts(), ['5', '5', '5']);
    assert.deepEqual(await shown(), newest, 'newest first');
    assert.equal(await page.locator('#feed-error').isHidden(), true);
    const row = (id) => page.locator(`#feed-list li[data-id="${id}"]`);
    assert.equal(await row(sent[4]).locator('.type').textContent(), 'order.shipped');
    assert.equal(await row(sent[4]).locator('.preview').textContent(), '{"order":"A-7"}', 'other data as JSON');
    assert.equal(await row(sent[0]).locator('.title').textContent(), 'Invoice 1');
    assert.equal(await row(sent[0]).locator('.preview').textContent(), 'invoice 1 is ready');
    assert.equal(await row(sent[1]).locator('.preview').textContent(), 'due <b>today</b>', 'markup shown as text');
    assert.equal(await page.locator('#feed-list b').count(), 0);
    assert.deepEqual(await row(sent[2]).locator('.tag').allTextContents(), ['unread', 'unseen', 'urgent']);
    assert.match(await row(sent[2]).locator('.head').textContent(), /group billing/);
    const item0 = (await restFeed('gina')).items.find((x) => x.id === sent[0]);
    assert.equal(await row(sent[0]).locator('time').textContent(), await page.evaluate((ts) => new Date(ts).toLocaleString(), item0.timestamp));
    assert.equal(await page.locator('#feed-older').isHidden(), true);
    assert.equal(await text(page, '#feed-shown'), '5 shown, the oldest reached');

    // one read: the unread count drops, the item says so, the server agrees, gina's tab hears it
    await row(sent[0]).locator('button.mark-read').click();
    await waitFor(async () => (await text(page, '#feed-result')) === `read ${sent[0]}: 1 item(s) changed`, 5000, 'marked read');
    assert.deepEqual(await counts(), ['5', '4', '4']);
    assert.equal(await row(sent[0]).getAttribute('data-read'), 'true');
    assert.deepEqual(await row(sent[0]).locator('.tag').allTextContents(), ['read']);
    assert.equal(await row(sent[0]).locator('button.mark-unread').count(), 1);
    assert.deepEqual(await restFeed('gina', '/counts'), { total: 5, unseen: 4, unread: 4 });
    const upd = await waitFor(() => gina.messages.find((m) => m.type === 'feed_update'), 5000, 'a feed_update on gina\'s tab');
    assert.deepEqual(upd.data, { ids: [sent[0]], action: 'read', counts: { total: 5, unseen: 4, unread: 4 } });
    // and unread again (it stays seen)
    await row(sent[0]).locator('button.mark-unread').click();
    await waitFor(async () => (await text(page, '#feed-result')) === `unread ${sent[0]}: 1 item(s) changed`, 5000, 'marked unread');
    assert.deepEqual(await counts(), ['5', '4', '5']);
    assert.equal(await row(sent[0]).getAttribute('data-read'), 'false');

    // the unread filter drops what is read
    await row(sent[1]).locator('button.mark-read').click();
    await waitFor(async () => (await text(page, '#feed-result')) === `read ${sent[1]}: 1 item(s) changed`, 5000, 'second read');
    await page.selectOption('#feed-filter', 'unread');
    await waitFor(async () => (await shown()).length === 4, 5000, 'the unread filter');
    assert.deepEqual(await shown(), newest.filter((id) => id !== sent[1]));

    // archive one: it leaves the inbox and the counts, and shows under archived
    await page.selectOption('#feed-filter', 'inbox');
    await waitFor(async () => (await shown()).length === 5, 5000, 'the inbox again');
    await row(sent[3]).locator('button.mark-archive').click();
    await waitFor(async () => (await text(page, '#feed-result')) === `archive ${sent[3]}: 1 item(s) changed`, 5000, 'archived');
    assert.deepEqual(await shown(), newest.filter((id) => id !== sent[3]));
    assert.deepEqual(await counts(), ['4', '2', '3']); // the archived one was unseen and unread
    await page.selectOption('#feed-filter', 'archived');
    await waitFor(async () => (await shown()).length === 1, 5000, 'the archived filter');
    assert.deepEqual(await shown(), [sent[3]]);
    assert.deepEqual(await row(sent[3]).locator('.tag').allTextContents(), ['unread', 'unseen', 'archived']);
    assert.equal(await row(sent[3]).locator('button.mark-unarchive').count(), 1);
    assert.deepEqual((await restFeed('gina', '?filter=archived')).items.map((x) => x.id), [sent[3]]);

    await page.click('#feed-reload');
    await page.locator('#feed-list li').first().waitFor({ timeout: 5000 });
    await idle();
    assert.deepEqual(await shown(), [sent[3]], 'reload keeps the filter');
    // mark all read: asks first (cancel changes nothing), archived items too
    await page.selectOption('#feed-filter', 'inbox');
    await waitFor(async () => (await shown()).length === 4, 5000, 'the inbox without the archived one');
    await page.selectOption('#feed-all-action', 'read');
    page.once('dialog', (d) => d.dismiss());
    await page.click('#feed-mark-all');
    await page.waitForTimeout(300);
    assert.deepEqual(await restFeed('gina', '/counts'), { total: 4, unseen: 2, unread: 3 });
    page.once('dialog', (d) => d.accept());
    await page.click('#feed-mark-all');
    await waitFor(async () => (await text(page, '#feed-result')) === 'every item read: 4 item(s) changed', 5000, 'all read');
    assert.deepEqual(await counts(), ['4', '0', '0']);
    assert.deepEqual(await page.$$eval('#feed-list li', (els) => els.map((el) => el.dataset.read)), ['true', 'true', 'true', 'true']);
    assert.ok((await restFeed('gina', '?filter=archived')).items[0].read, 'the archived item read too');
    await waitFor(() => gina.messages.some((m) => m.type === 'feed_update' && m.data.all === true && m.data.action === 'read'), 5000, 'gina\'s tab told');

    // paging with a small limit over every item, archived included
    await page.fill('#feed-limit', '2');
    await page.selectOption('#feed-filter', 'all');
    await waitFor(async () => (await shown()).length === 2, 5000, 'the first page of two');
    await idle();
    assert.deepEqual(await shown(), newest.slice(0, 2));
    assert.equal(await text(page, '#feed-shown'), '2 shown, older ones left');
    await page.click('#feed-older');
    await waitFor(async () => (await shown()).length === 4, 5000, 'the second page');
    await idle();
    assert.equal(await page.locator('#feed-older').isVisible(), true);
    await page.click('#feed-older');
    await waitFor(async () => (await shown()).length === 5, 5000, 'the last page');
    await idle();
    assert.deepEqual(await shown(), newest, 'pages in order, nothing twice');
    assert.equal(await page.locator('#feed-older').isHidden(), true);
    assert.equal(await text(page, '#feed-shown'), '5 shown, the oldest reached');
    // a mark keeps the pages loaded
    await row(sent[0]).locator('button.mark-unread').click();
    await waitFor(async () => (await text(page, '#feed-result')) === `unread ${sent[0]}: 1 item(s) changed`, 5000, 'unread on page 3');
    assert.deepEqual(await shown(), newest);
    assert.deepEqual(await counts(), ['4', '0', '1']);
    const statesShot = path.join(artifactsDir(), 'console-feed-states.png');
    await page.locator('#feed-panel').screenshot({ path: statesShot });
    console.log(`# screenshot: ${statesShot}`);
    // unarchive from the list of all
    await row(sent[3]).locator('button.mark-unarchive').click();
    await waitFor(async () => (await text(page, '#feed-result')) === `unarchive ${sent[3]}: 1 item(s) changed`, 5000, 'unarchived');
    assert.deepEqual(await counts(), ['5', '0', '1']);

    // an unknown user has an empty feed; a bad id, no id and a bad page size are errors
    await page.fill('#feed-limit', '20');
    await page.fill('#feed-user', 'nobody-here-yet');
    await page.click('#feed-open');
    await waitFor(async () => (await text(page, '#feed-empty')) === 'Nothing in nobody-here-yet\'s feed.', 5000, 'an empty feed');
    assert.deepEqual(await counts(), ['0', '0', '0']);
    assert.equal(await page.locator('#feed-list li').count(), 0);
    await page.fill('#feed-user', 'bad user!');
    await page.click('#feed-open');
    await waitFor(async () => /^bad user!: HTTP 400: user_id must be /.test(await text(page, '#feed-error')), 5000, 'the 400 shown');
    assert.equal(await page.locator('#feed-view').isHidden(), true);
    assert.equal(await page.getAttribute('#feed-error', 'class'), 'error');
    await page.fill('#feed-user', '  ');
    await page.click('#feed-open');
    await waitFor(async () => /^User id: whose feed\?/.test(await text(page, '#feed-error')), 5000, 'no user id');
    await page.fill('#feed-user', 'gina');
    await page.fill('#feed-limit', '101');
    await page.click('#feed-open');
    await waitFor(async () => (await text(page, '#feed-error')) === 'Per page: a whole number from 1 to 100, not "101".', 5000, 'a bad page size');
    await page.fill('#feed-limit', '20');
    await page.click('#feed-open');
    await waitFor(async () => (await shown()).length === 5, 5000, 'gina\'s inbox again');
    assert.equal(await page.locator('#feed-error').isHidden(), true);

    // a user's token is refused: said in words, nothing of the feed left on show
    await page.fill('#admin-token', token('gina'));
    await page.click('#settings button[type=submit]');
    await waitFor(async () => /^The feed needs a token with role admin or service; this one is refused \(HTTP 403: /.test(await text(page, '#feed-error')), 5000, 'the 403 in words');
    assert.equal(await page.locator('#feed-view').isHidden(), true);
    assert.equal(await page.locator('#feed-list li').count(), 0);
    await page.fill('#admin-token', admin);
    await page.click('#settings button[type=submit]');
    await waitFor(async () => (await shown()).length === 5, 5000, 'the feed back with an admin token');
    assert.equal(await page.locator('#feed-view').isVisible(), true);
    assert.equal(await page.locator('#feed-error').isHidden(), true);

    // reached from the online users (alice's own notifications) and from the backlog lookup
    await waitFor(async () => (await page.locator('#online-users .user').allTextContents()).includes('alice'), 8000, 'alice listed');
    await page.locator('#online-users li', { hasText: 'alice' }).locator('button.show-feed').click();
    const aliceFeed = await restFeed('alice', '/counts');
    assert.ok(aliceFeed.total > 0);
    await waitFor(async () => (await page.inputValue('#feed-user')) === 'alice' && (await text(page, '#feed-total')) === String(aliceFeed.total), 5000, 'alice\'s feed');
    await idle();
    assert.deepEqual(await shown(), (await restFeed('alice')).items.map((x) => x.id));
    await page.fill('#lookup-user', 'gina');
    await page.click('#lookup-feed');
    await waitFor(async () => (await page.inputValue('#feed-user')) === 'gina' && (await shown()).length === 5, 5000, 'gina\'s feed from the lookup');
    await idle();
    assert.deepEqual(await shown(), newest);
    assert.deepEqual(pageErrors.map(String), []);
  });

  test('templates: create, list, replace, send with params, edit, delete', async () => {
    const admin = token('ops', { role: 'admin' });
    const listed = async () => (await nd.rest('GET', '/api/websocket/templates', null, admin)).body.data.templates.map((t) => t.id);
    await page.click('#templates-reload');
    await waitFor(async () => page.locator('#templates-empty').isVisible(), 5000, '"no template yet"');
    assert.equal(await page.locator('#templates-hint').isHidden(), true);

    await page.fill('#template-id', 'welcome');
    await page.fill('#template-title', 'Hi {{name}}');
    await page.fill('#template-message', 'Dear {{user_id}}, welcome to {{plan}}');
    await page.click('#template-save');
    await waitFor(async () => (await text(page, '#template-result')) === 'template welcome created', 5000, 'created');
    await page.locator('#template-list li[data-id="welcome"]').waitFor({ timeout: 5000 });
    assert.deepEqual(await listed(), ['welcome']);
    assert.match(await text(page, '#template-list li[data-id="welcome"]'), /Hi \{\{name\}\} — Dear \{\{user_id\}\}, welcome to \{\{plan\}\}/);
    assert.deepEqual(await page.locator('#send-template option').allTextContents(), ['none: the title and message below', 'welcome — Hi {{name}}']);

    // the same id again replaces it
    await page.fill('#template-message', 'Dear {{user_id}}, welcome to {{plan}}!');
    await page.click('#template-save');
    await waitFor(async () => (await text(page, '#template-result')) === 'template welcome replaced', 5000, 'replaced');
    const got = await nd.rest('GET', '/api/websocket/templates/welcome', null, admin);
    assert.equal(got.body.data.template.message, 'Dear {{user_id}}, welcome to {{plan}}!');

    // a second one, from a cleared form, listed by id
    await page.click('#template-new');
    assert.equal(await page.inputValue('#template-id'), '');
    await page.fill('#template-id', 'bye');
    await page.fill('#template-message', 'bye {{user_id}}');
    await page.click('#template-save');
    await waitFor(async () => (await text(page, '#template-result')) === 'template bye created', 5000, 'bye created');
    await waitFor(async () => (await page.locator('#template-list li').count()) === 2, 5000, 'two listed');
    assert.deepEqual(await page.locator('#template-list .tid').allTextContents(), ['bye', 'welcome']);
    assert.deepEqual(await listed(), ['bye', 'welcome']);

    // "use" picks it for sending: the text fields give way to params
    await page.locator('#template-list li[data-id="welcome"] button.use').click();
    assert.equal(await page.inputValue('#send-template'), 'welcome');
    assert.equal(await page.isDisabled('#send-title-input'), true);
    assert.equal(await page.isDisabled('#send-message'), true);
    assert.equal(await page.locator('#send-params').isVisible(), true);
    await page.fill('#send-user', 'alice, erin');
    await page.fill('#send-params', '{"name": "Ann <b>", "plan": "Pro"}');
    await page.selectOption('#send-priority', 'high');
    await page.fill('#send-group', 'welcome');
    await page.click('#send-notification');
    await waitFor(async () => /^notification to 2 user\(s\): 2 reached on 3 connection\(s\)/.test(await text(page, '#send-result')), 5000, 'the template sent');
    const [aid, eid] = (await text(page, '#send-result')).match(/[0-9a-f]{16}/g);
    const a = await waitFor(() => sockets[0].messages.find((x) => x.message_id === aid), 5000, 'alice to get it');
    assert.deepEqual([a.data.title, a.data.message, a.priority, a.group], ['Hi Ann <b>', 'Dear alice, welcome to Pro!', 'high', 'welcome']);
    const erin = sockets[sockets.length - 1];
    const e = await waitFor(() => erin.messages.find((x) => x.message_id === eid), 5000, 'erin to get it');
    assert.equal(e.data.message, 'Dear erin, welcome to Pro!', '{{user_id}} is each recipient\'s own');

    // a missing param and params that are not an object, in words
    await page.fill('#send-params', '{"name": "Ann"}');
    await page.click('#send-notification');
    await waitFor(async () => /failed: HTTP 400: .*template "welcome".*"plan"/.test(await text(page, '#send-result')), 5000, 'the missing param named');
    await page.fill('#send-params', '["Ann"]');
    await page.click('#send-notification');
    await waitFor(async () => /^params are not a JSON object/.test(await text(page, '#send-result')), 5000, 'the params error');
    await page.fill('#send-params', '{"name": ');
    await page.click('#send-notification');
    await waitFor(async () => /^params are not a JSON object: /.test(await text(page, '#send-result')), 5000, 'the JSON error');

    // edit loads a template back into the form
    await page.click('#template-new');
    await page.locator('#template-list li[data-id="welcome"] button.edit').click();
    await waitFor(async () => (await page.inputValue('#template-id')) === 'welcome', 5000, 'the template loaded');
    assert.equal(await page.inputValue('#template-title'), 'Hi {{name}}');
    assert.equal(await page.inputValue('#template-message'), 'Dear {{user_id}}, welcome to {{plan}}!');
    assert.match(await text(page, '#template-result'), /^template welcome, changed /);

    // a bad id: notifyd's words
    await page.fill('#template-id', 'no spaces');
    await page.click('#template-save');
    await waitFor(async () => /^save no spaces failed: HTTP 400: /.test(await text(page, '#template-result')), 5000, 'the bad id shown');
    assert.equal(await page.getAttribute('#template-result', 'data-ok'), 'false');

    // delete asks first: "cancel" keeps it, "OK" deletes it
    page.once('dialog', (d) => d.dismiss());
    await page.locator('#template-list li[data-id="welcome"] button.delete').click();
    await page.waitForTimeout(300);
    assert.deepEqual(await listed(), ['bye', 'welcome']);
    page.once('dialog', (d) => d.accept());
    await page.locator('#template-list li[data-id="welcome"] button.delete').click();
    await waitFor(async () => (await text(page, '#template-result')) === 'template welcome deleted', 5000, 'deleted');
    await waitFor(async () => (await page.locator('#template-list li').count()) === 1, 5000, 'one left');
    assert.deepEqual(await listed(), ['bye']);
    assert.equal((await nd.rest('GET', '/api/websocket/templates/welcome', null, admin)).status, 404);
    // the send form no longer offers it
    assert.equal(await page.inputValue('#send-template'), '');
    assert.equal(await page.isDisabled('#send-message'), false);
    assert.deepEqual(await page.locator('#send-template option').allTextContents(), ['none: the title and message below', 'bye']);

    // a service token may send, but templates are for admins: said as a hint
    await page.fill('#admin-token', token('backend', { role: 'service' }));
    await page.click('#settings button[type=submit]');
    await waitFor(async () => /^Templates need a token with role admin; this one is refused \(HTTP 403: /.test(await text(page, '#templates-hint')), 5000, 'the admin hint');
    assert.equal(await page.locator('#template-list li').count(), 0);
    await page.fill('#admin-token', admin);
    await page.click('#settings button[type=submit]');
    await waitFor(async () => (await page.locator('#template-list li').count()) === 1, 5000, 'listed again');
    assert.equal(await page.locator('#templates-hint').isHidden(), true);
    assert.deepEqual(pageErrors.map(String), []);
  });

  test('fits a phone (390 px) and a desktop (1280 px): nothing overflows sideways', async () => {
    // the widest values the page may meet: a year of uptime, 19-digit counters, a
    // 128-byte user id online, a 64-byte template id, long answers
    await page.route('**/api/websocket/stats', async (route) => {
      const res = await route.fetch();
      const j = await res.json();
      Object.assign(j.data, { uptime_seconds: 364 * 86400 + 23 * 3600 + 59 * 60, messages_total: 9223372036854775807, deliveries_total: 9223372036854775807 });
      await route.fulfill({ response: res, json: j });
    });
    const longUser = `u${'x'.repeat(127)}`;
    const lu = await openWs(nd.wsUrl, token(longUser));
    sockets.push(lu);
    const longId = `t${'-long'.repeat(12)}${'z'.repeat(3)}`;
    assert.equal(longId.length, 64);
    const put = await nd.rest('PUT', `/api/websocket/templates/${longId}`, { title: 'T'.repeat(200), message: 'M'.repeat(600) }, token('ops', { role: 'admin' }));
    assert.equal(put.status, 200);
    await page.click('#templates-reload');
    await page.locator(`#template-list li[data-id="${longId}"]`).waitFor({ timeout: 5000 });
    await waitFor(async () => (await text(page, '#stat-uptime')) === '364d 23h', 5000, 'the long uptime shown');
    await waitFor(async () => (await page.locator('#online-users .user').allTextContents()).includes(longUser), 5000, 'the long user listed');
    await page.fill('#lookup-user', longUser);
    await page.click('#lookup-send');
    await waitFor(async () => /nothing kept/.test(await text(page, '#lookup-result')), 5000, 'the long user looked up');
    await page.fill('#send-user', [longUser, 'y'.repeat(128), 'u1', 'u2', 'u3', 'u4', 'u5'].join(', '));
    await page.selectOption('#send-template', '');
    await page.fill('#send-message', 'wide');
    await page.click('#send-notification');
    await waitFor(async () => /kept for later \(/.test(await text(page, '#send-result')), 5000, 'a long answer');
    // seven ids: the first five, then how many more
    assert.match(await text(page, '#send-result'), /^notification to 7 user\(s\): 1 reached on 1 connection\(s\), 6 kept for later \((?:[0-9a-f]{16} ){5}… 2 more\)$/);
    assert.equal(await page.getAttribute(`#online-users li:has(.user[title="${longUser}"]) .user`, 'title'), longUser);

    // the long user's feed on show, with the longest title, message and group an item carries
    const admin = token('ops', { role: 'admin' });
    const wide = await nd.rest('POST', '/api/websocket/notification', { user_id: longUser, title: 'T'.repeat(256), message: 'M'.repeat(4096), level: 'info', priority: 'urgent', group: 'g'.repeat(128) }, admin);
    assert.equal(wide.status, 200, JSON.stringify(wide.body));
    const wideEvent = await nd.rest('POST', '/api/websocket/publish', { type: `t${'x'.repeat(63)}`, user_id: longUser, feed: true, data: { blob: 'B'.repeat(2000) } }, admin);
    assert.equal(wideEvent.status, 200, JSON.stringify(wideEvent.body));
    const longFeed = (await nd.rest('GET', `/api/websocket/feed/${longUser}`, null, admin)).body.data.items;
    assert.ok(longFeed.length >= 3, `the long user's feed: ${longFeed.length}`);
    await page.fill('#feed-user', longUser);
    await page.selectOption('#feed-filter', 'inbox');
    await page.click('#feed-open');
    await waitFor(async () => (await page.locator('#feed-list li').count()) === longFeed.length, 5000, 'the long user\'s feed shown');

    for (const [width, height] of [[390, 844], [1280, 800]]) {
      await page.setViewportSize({ width, height });
      await page.waitForTimeout(300);
      assert.deepEqual(await overflows(page), [], `nothing overflows at ${width} px`);
      // each card is at least as wide as its value
      const cards = await page.$$eval('.card', (els) => els.map((el) => [el.scrollWidth, el.clientWidth, el.querySelector('.num').textContent]));
      assert.equal(cards.length, 8, 'five live counts and the feed\'s three');
      for (const [sw, cw, v] of cards) assert.ok(sw <= cw, `card ${v}: ${sw} <= ${cw} at ${width} px`);
      // on a phone the panels stack, one column as wide as the screen
      const panels = await page.$$eval('.panel', (els) => els.map((el) => Math.round(el.getBoundingClientRect().width)));
      if (width === 390) assert.ok(panels.every((w) => w === panels[0] && w >= 340), `panels one column: ${panels}`);
      else assert.ok(panels[0] < 700, `panels side by side: ${panels}`);
      const shot = path.join(artifactsDir(), `console-${width}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok(fs.statSync(shot).size > 10000, 'a screenshot with something in it');
      console.log(`# screenshot: ${shot}`);
      // the feed panel on its own, to look at
      const feedShot = path.join(artifactsDir(), `console-feed-${width}.png`);
      await page.locator('#feed-panel').screenshot({ path: feedShot });
      console.log(`# screenshot: ${feedShot}`);
    }
    // a stats poll the handler is still answering finishes first (else its fulfill throws)
    await page.unrouteAll({ behavior: 'wait' });

    // the first thing a phone shows: the hint, not an error
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    phone.on('pageerror', (e) => pageErrors.push(e));
    await phone.goto(origin + '/');
    await phone.waitForSelector('#stats-hint:not([hidden])', { timeout: 5000 });
    const st = await hintStyle(phone, '#stats-hint');
    assert.notEqual(st.hint.color, st.error.color);
    assert.deepEqual(await overflows(phone), [], 'nothing overflows on the first screen of a phone');
    const shot = path.join(artifactsDir(), 'console-390-start.png');
    await phone.screenshot({ path: shot, fullPage: true });
    console.log(`# screenshot: ${shot}`);
    await phone.close();
    assert.deepEqual(pageErrors.map(String), []);
  });
});
