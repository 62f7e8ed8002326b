// docs/feed-example.html (a bell and an inbox on the feed) in headless
// Chromium against the real notifyd, from another origin (CORS): the badge
// counts, the list, a read in one tab reaching the other tab, mark all read,
// archive, a new notification arriving at the top, and paging.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';

import { Notifyd, TOP, launchChromium, staticServer, token, waitFor, withTimeout } from '../clients/notifyd_harness.mjs';

const browser = await launchChromium();
let web;
let nd;
if (browser) {
  web = await staticServer({
    '/': path.join(TOP, 'docs', 'feed-example.html'),
    '/notifyd.js': path.join(TOP, 'clients', 'browser', 'notifyd.js'),
  });
  nd = await Notifyd.start({ env: { NOTIFYD_ALLOWED_ORIGINS: new URL(web.url).origin } });
}
after(async () => {
  if (browser) await withTimeout(browser.close(), 20000, 'Chromium to close').catch(() => {});
  if (web) await web.close();
  if (nd) await nd.cleanup();
});

async function open(user) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(`${web.url}/?url=${encodeURIComponent(nd.wsUrl)}&token=${token(user)}`);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 15000 });
  return { page, errors };
}

const badge = (page) => page.evaluate(() => document.getElementById('badge').textContent);
const rows = (page) => page.evaluate(() => [...document.querySelectorAll('#list li')].map((li) => ({ id: li.dataset.id, cls: li.className, text: li.textContent })));

test('bell and inbox: counts, two tabs, mark all read, archive, paging', { skip: !browser && 'chromium or playwright-core missing', timeout: 120000 }, async () => {
  const ids = [];
  for (let i = 0; i < 12; i++) ids.push((await nd.notify('web-u', `note ${i}`, { title: `T${i}` })).message_id);
  await nd.progress('web-u', 'task', 10); // not kept: not in the feed
  const a = await open('web-u');
  const b = await open('web-u');
  for (const { page } of [a, b]) {
    assert.equal(await badge(page), '12');
    await page.click('#bell');
    const r = await rows(page);
    assert.deepEqual(r.map((x) => x.id), ids.slice(2).reverse(), 'the newest 10, newest first');
    assert.ok(r.every((x) => x.cls === 'unread'));
    assert.match(r[0].text, /T11/);
  }
  // older items on demand
  await a.page.click('#more');
  await waitFor(async () => (await rows(a.page)).length === 12, 5000, 'the second page');
  // reading an item in tab a: tab b's badge and row follow
  await a.page.click(`li[data-id="${ids[11]}"] .title`);
  await waitFor(async () => (await badge(b.page)) === '11', 5000, "tab b's badge at 11");
  await waitFor(async () => (await rows(b.page)).find((x) => x.id === ids[11]).cls === 'read', 5000, 'the row read in b');
  // tab a's own answer and tab b's feed_update travel apart: either may land first
  await waitFor(async () => (await badge(a.page)) === '11', 5000, "tab a's badge at 11");
  // a new notification arrives at the top of both lists
  const fresh = (await nd.notify('web-u', 'just now', { title: 'NEW' })).message_id;
  for (const { page } of [a, b]) {
    await waitFor(async () => (await rows(page))[0].id === fresh, 5000, 'the new item on top');
    await waitFor(async () => (await badge(page)) === '12', 5000, 'the badge at 12');
  }
  // mark all read in b: both at zero
  await b.page.click('#all-read');
  for (const { page } of [a, b]) {
    await waitFor(async () => (await badge(page)) === '', 5000, 'no badge');
    await waitFor(async () => (await rows(page)).every((x) => x.cls === 'read'), 5000, 'every row read');
  }
  // archive one in a: it leaves both inboxes and shows under Archived
  await a.page.click(`li[data-id="${fresh}"] .archive`);
  for (const { page } of [a, b]) {
    await waitFor(async () => !(await rows(page)).some((x) => x.id === fresh), 5000, 'archived out of the inbox');
  }
  await a.page.click('nav button[data-filter="archived"]');
  await waitFor(async () => JSON.stringify((await rows(a.page)).map((x) => x.id)) === JSON.stringify([fresh]), 5000, 'the archive');
  const counts = await nd.rest('GET', '/api/websocket/feed/web-u/counts', undefined, token('svc', { role: 'service' }));
  assert.deepEqual(counts.body.data, { total: 12, unseen: 0, unread: 0 });
  // another user's page shows none of it
  const c = await open('web-other');
  assert.equal(await badge(c.page), '');
  assert.deepEqual(a.errors.concat(b.errors, c.errors), []);
});
