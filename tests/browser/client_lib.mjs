// Shared setup of the browser-module tests (client_*.test.mjs): notifyd, a
// static server for the page and /notifyd.js, headless Chromium, and an
// in-page recorder around NotifydClient.
import path from 'node:path';

import { Notifyd, TOP, launchChromium, staticServer, token, waitFor, withTimeout } from '../clients/notifyd_harness.mjs';

export const MODULE = path.join(TOP, 'clients', 'browser', 'notifyd.js');
const BLANK = path.join(TOP, 'tests', 'browser', 'client_blank.html');

/**
 * Starts notifyd (args), a static server and Chromium; returns {nd, web, browser, page, cleanup}
 * or null when Chromium or playwright-core is missing (the caller skips).
 */
export async function setup({ args = [] } = {}) {
  const browser = await launchChromium();
  if (!browser) return null;
  let nd;
  try {
    nd = await Notifyd.start({ args });
  } catch (e) {
    await browser.close().catch(() => {});
    throw e;
  }
  const web = await staticServer({ '/': BLANK, '/notifyd.js': MODULE });
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e));
  await page.goto(web.url + '/');
  const ctx = {
    nd, web, browser, page, pageErrors,
    async cleanup() {
      await withTimeout(browser.close(), 20000, 'Chromium to close').catch(() => {});
      await web.close();
      await nd.cleanup();
    },
  };
  return ctx;
}

/**
 * Creates `window.clients[name]` in the page: a NotifydClient whose events and
 * messages are recorded in `window.rec[name]` = {events, msgs, sent, dups, errors, frames, urls}
 * (frames: every frame received, {type, ids}; urls: every URL the client connected to).
 * `opts` is JSON (url, token, backoff...); `handlers` is the source of a function
 * (client, rec) => void run in the page to add handlers.
 */
export async function makeClient(page, name, opts, handlers = '') {
  await page.evaluate(async ({ name, opts, handlers }) => {
    const { NotifydClient } = await import('/notifyd.js');
    window.clients = window.clients || {};
    window.rec = window.rec || {};
    const rec = (window.rec[name] = { events: [], msgs: [], sent: [], dups: [], errors: [], frames: [], urls: [] });
    class RecordingWebSocket extends WebSocket {
      constructor(url, ...rest) {
        super(url, ...rest);
        rec.urls.push(url);
        // each frame as it came off the wire: its type and the message ids in it
        this.addEventListener('message', (e) => {
          try {
            const m = JSON.parse(e.data);
            const ids = m.type === 'batch' ? m.data.messages.map((x) => x.message_id) : (m.message_id ? [m.message_id] : []);
            rec.frames.push({ type: m.type, ids });
          } catch { /* the client reports bad frames itself */ }
        });
      }

      send(d) {
        rec.sent.push(JSON.parse(d));
        super.send(d);
      }
    }
    const client = new NotifydClient({ ...opts, WebSocket: RecordingWebSocket });
    for (const ev of ['connecting', 'open', 'close', 'reconnecting']) {
      client.on(ev, (e) => rec.events.push({ ev, t: performance.now(), ...JSON.parse(JSON.stringify({ ...e, data: undefined })) }));
    }
    client.on('message', (m) => { rec.msgs.push(m); });
    client.on('duplicate', (m) => { rec.dups.push(m.message_id); });
    client.on('error', (e) => { rec.errors.push({ code: e.code, message: e.message, server: !!e.server }); });
    if (handlers) (0, eval)(`(${handlers})`)(client, rec);
    window.clients[name] = client;
  }, { name, opts, handlers: handlers ? handlers.toString() : '' });
}

export const rec = (page, name) => page.evaluate((n) => window.rec[n], name);

export async function connect(page, name) {
  return withTimeout(page.evaluate((n) => window.clients[n].connect(), name), 15000, `client ${name} to connect`);
}

/** Waits until the page-side predicate (a function of rec) holds; returns rec. */
export async function waitRec(page, name, pred, ms, what) {
  return waitFor(async () => {
    const r = await rec(page, name);
    return pred(r) ? r : null;
  }, ms, what, 50);
}

/**
 * Waits until this client got everything notifyd had queued for its connection: a ping's
 * `pong` comes after it on the same connection -- after a replay too, which notifyd sends
 * before anything live. No sleep: returns rec as soon as the pong is in.
 */
export async function settle(page, name, ms = 5000) {
  const pongs = (r) => r.msgs.filter((m) => m.type === 'pong').length;
  const n = pongs(await rec(page, name));
  const sent = await page.evaluate((c) => window.clients[c].send('ping', {}), name);
  if (!sent) throw new Error(`${name}: not connected, no ping sent`);
  return waitRec(page, name, (r) => pongs(r) > n, ms, `${name}'s pong`);
}

/**
 * Waits until notifyd has received every ack the page's clients sent (notifyd_acks_total):
 * what they forget is then forgotten for any later connect -- a new connection can
 * overtake the frames still in flight on the old one.
 */
export async function acksReceived(page, nd, ms = 5000) {
  const want = await page.evaluate(() => Object.values(window.rec || {})
    .flatMap((r) => r.sent).filter((s) => s.type === 'ack').length);
  return waitFor(async () => (await nd.metric('notifyd_acks_total')) >= want, ms, `notifyd to have ${want} acks`);
}

/** The notification messages (with a message_id) in arrival order. */
export const notes = (r) => r.msgs.filter((m) => m.message_id);

export { token };
