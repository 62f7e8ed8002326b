/**
 * notifyd.js — the browser (and Node) client for notifyd's WebSocket /ws.
 *
 * A dependency-free ES module. Familiar to users of the AutoAds design's
 * `AutoAdsWebSocket`: construct it with a token, `connect()`, `on(type, handler)`,
 * `close()`; it answers `ping` with `pong` by itself. On top of that it
 * reconnects with exponential backoff and full jitter, resumes with
 * `?since=<last message_id seen>`, drops duplicates by `message_id`, can ack
 * (`?ack=1`), can take several messages per frame (`batch: true`, `?batch=1`;
 * handlers still get one message at a time), refreshes tokens, and reports its
 * state changes as events. A message's envelope carries `priority` ("high" or
 * "urgent"; absent means normal) and `group` when the sender gave them. When
 * the server closes a connection it says why first (`disconnected`: code,
 * reason, reconnect); on `reconnect: false` the client stops instead of
 * reconnecting and the `close` event carries the server's reason.
 *
 *   import { NotifydClient } from './notifyd.js';
 *   const client = new NotifydClient({ url: 'ws://localhost:8080/ws', token });
 *   client.on('system_notification', (data) => show(data.title, data.message, data.level));
 *   client.on('batchgo_open_url', (data) =>
 *     data.urls.forEach((u, i) => setTimeout(() => window.open(u, '_blank'), i * data.delay)));
 *   client.connect();
 *
 * See notifyd.d.ts for every option and event, and docs/clients.md.
 */

export const VERSION = '0.1.0';

/** Message types notifyd keeps for offline users (and until acked in ack mode). */
export const KEPT_TYPES = Object.freeze([
  'system_notification', 'token_insufficient', 'plan_expiring', 'plan_expired',
  'batchgo_complete', 'siterank_complete', 'chengelink_complete', 'batchgo_open_url',
]);

/** notifyd's WebSocket close codes. */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001, // server shutting down
  ABNORMAL: 1006, // no close frame: network failure, or the upgrade was refused (401/429/503)
  INVALID_UTF8: 1007,
  POLICY: 1008, // too many bad messages
  TOO_BIG: 1009,
  SLOW_READER: 4001,
  HEARTBEAT_TIMEOUT: 4002,
  TOKEN_EXPIRED: 4003,
  DISCONNECTED: 4004, // DisconnectUser: an operator closed the user's connections
});

const OPEN = 1;
const STATE_EVENTS = new Set(['connecting', 'open', 'close', 'reconnecting', 'statechange']);

const DEFAULTS = {
  url: undefined,
  token: undefined,
  getToken: undefined,
  WebSocket: undefined,
  ack: false,
  ackTypes: KEPT_TYPES,
  batch: false,
  ackRate: 0,
  reconnect: true,
  backoffBaseMs: 500,
  backoffMaxMs: 30000,
  backoffFactor: 2,
  jitter: 'full',
  stableAfterMs: 5000,
  maxAttempts: Infinity,
  giveUpOn: [],
  since: undefined,
  dedupeSize: 1000,
  idleTimeoutMs: undefined,
  connectTimeoutMs: 10000,
  refreshAheadMs: 60000,
  refreshTimeoutMs: 10000,
  sendClientReady: true,
  reconnectOnOnline: true,
  random: Math.random,
  fetch: undefined, // the feed's HTTP calls: globalThis.fetch unless given
};

/** The feed's filters and actions (SPEC §7d). */
export const FEED_FILTERS = Object.freeze(['inbox', 'unread', 'archived', 'all']);
export const FEED_ACTIONS = Object.freeze(['seen', 'read', 'unread', 'archive', 'unarchive']);

/**
 * The user's notification feed (the bell and the inbox), through notifyd's
 * REST routes for the user's own token: /api/websocket/me/feed[/counts|/mark]
 * on the host of the WebSocket URL. Read state is shared by every tab: a
 * change made anywhere arrives on each connection as a `feed_update` message
 * ({ids | all, action, counts}) -- subscribe with client.on('feed_update', ...).
 * Each call resolves with the answer's data or rejects with an Error whose
 * `status` is the HTTP status and `message` says what was wrong.
 */
export class NotifydFeed {
  constructor(client) {
    this._client = client;
  }

  /** One page, newest first: {items, next_before} ('' at the end). */
  list({ before, limit, filter } = {}) {
    if (filter !== undefined && !FEED_FILTERS.includes(filter)) {
      return Promise.reject(new TypeError(`notifyd: filter must be one of ${FEED_FILTERS.join(', ')}`));
    }
    return this._call('', 'GET', undefined, { before, limit, filter });
  }

  /** {total, unseen, unread}: what a bell's badge shows (archived items not counted). */
  counts() {
    return this._call('/counts', 'GET');
  }

  /** Marks `ids` (or every item with `all: true`): resolves with {updated, counts}. */
  mark({ ids, all = false, action } = {}) {
    if (!FEED_ACTIONS.includes(action)) {
      return Promise.reject(new TypeError(`notifyd: action must be one of ${FEED_ACTIONS.join(', ')}`));
    }
    if (!all && !(Array.isArray(ids) && ids.length)) {
      return Promise.reject(new TypeError('notifyd: mark needs ids (a non-empty array) or all: true'));
    }
    return this._call('/mark', 'POST', all ? { all: true, action } : { ids, action });
  }

  async _call(path, method, body, query) {
    const c = this._client;
    const f = c.options.fetch || globalThis.fetch;
    if (typeof f !== 'function') throw new TypeError('notifyd: no fetch here; pass one as the fetch option');
    const token = c.token || (c.options.getToken ? await c.options.getToken({ attempt: 0, reason: 'feed' }) : undefined);
    if (!token) throw new TypeError('notifyd: the feed needs a token (option token or getToken)');
    const u = new URL(c.url.href);
    u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
    u.pathname = `/api/websocket/me/feed${path}`;
    u.search = '';
    for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
    const headers = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await f(u.href, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let answer = null;
    try {
      answer = await res.json();
    } catch {
      /* not JSON: the status says it */
    }
    if (!res.ok || !answer || answer.code !== 0) {
      const e = new Error(`notifyd: ${(answer && answer.message) || `HTTP ${res.status}`}`);
      e.status = res.status;
      throw e;
    }
    return answer.data;
  }
}

function defaultUrl() {
  const loc = globalThis.location;
  if (loc && loc.host) return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws`;
  return 'ws://localhost:8080/ws';
}

/** ws(s)://host[:port]/ws from what the user gave: a ws(s) or http(s) URL, with or without /ws. */
export function normalizeUrl(url) {
  const u = new URL(url || defaultUrl(), globalThis.location ? globalThis.location.href : undefined);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new TypeError(`notifyd: not a ws/http URL: ${url}`);
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/ws';
  return u;
}

/** The payload of a JWT, or null (no signature check: for display only). */
export function decodeToken(token) {
  try {
    const part = String(token).split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((part.length + 3) % 4);
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/**
 * One logical connection to notifyd for one user; survives reconnects.
 * Events: every server message type (`connected`, `ping`, `system_notification`, …),
 * `message` (every server message), and the state events `connecting`, `open`,
 * `close`, `reconnecting`, `statechange`; `error` carries server `error` messages and
 * the client's own errors (transport, handler, token).
 */
export class NotifydClient {
  constructor(options = {}) {
    if (typeof options === 'string') options = { token: options }; // new NotifydClient(token), as AutoAdsWebSocket
    this.options = { ...DEFAULTS, ...options };
    const o = this.options;
    this.WebSocketImpl = o.WebSocket || globalThis.WebSocket;
    if (typeof this.WebSocketImpl !== 'function') {
      throw new TypeError('notifyd: no WebSocket here; pass one: new NotifydClient({WebSocket: (await import("ws")).WebSocket, ...})');
    }
    this.url = normalizeUrl(o.url);
    this.token = o.token;
    this.state = 'idle'; // idle | connecting | open | waiting | closed
    this.lastMessageId = o.since || null;
    this.clientId = null;
    this.connectedData = null;
    this.attempt = 0; // failed attempts since the last stable connection
    this._handlers = new Map();
    this._seen = new Set();
    this._seenOrder = [];
    this._ws = null;
    this._timers = { retry: null, idle: null, connect: null, refresh: null, stable: null, ack: null };
    this._farewell = null; // the `disconnected` message of the current socket
    this._acks = [];
    this._ackTokens = Math.max(1, this.options.ackRate * 2);
    this._ackRefillAt = Date.now();
    this._refreshes = [];
    this._clockOffset = 0; // server time - local time, ms
    this._opened = null;
    this._onOnline = () => {
      if (this.state === 'waiting' && this.options.reconnectOnOnline) this._openSocket();
    };
    /** the user's notification feed: feed.list(), feed.counts(), feed.mark() */
    this.feed = new NotifydFeed(this);
  }

  // ---- events ----

  /** Subscribes `handler` to `type`; returns a function that unsubscribes it. */
  on(type, handler) {
    if (typeof handler !== 'function') throw new TypeError('notifyd: handler must be a function');
    if (!this._handlers.has(type)) this._handlers.set(type, new Set());
    this._handlers.get(type).add(handler);
    return () => this.off(type, handler);
  }

  off(type, handler) {
    const set = this._handlers.get(type);
    if (!set) return;
    if (handler) set.delete(handler);
    else set.clear();
  }

  once(type, handler) {
    const off = this.on(type, (...args) => {
      off();
      return handler(...args);
    });
    return off;
  }

  /** Calls the handlers of `type`; returns a promise of their settlement (handler results awaited). */
  _emit(type, ...args) {
    const set = this._handlers.get(type);
    if (!set || set.size === 0) return null;
    const pending = [];
    let failed = null;
    for (const h of [...set]) {
      try {
        const r = h(...args);
        if (r && typeof r.then === 'function') pending.push(r);
      } catch (e) {
        failed = failed || e;
      }
    }
    if (failed) return Promise.reject(failed);
    return pending.length ? Promise.all(pending) : null;
  }

  _emitSafe(type, detail) {
    const r = this._emit(type, detail);
    if (r) r.catch((e) => this._clientError('handler_failed', `a "${type}" handler threw: ${e && e.message}`, e));
  }

  _clientError(code, message, error) {
    const detail = { code, message, error };
    const set = this._handlers.get('error');
    if (!set || set.size === 0) {
      // unhandled: say so, except for socket errors (the close and reconnecting events tell those)
      if (code !== 'socket_error' && globalThis.console) console.warn(`notifyd: ${code}: ${message}`);
      return;
    }
    for (const h of [...set]) {
      try {
        h(detail, error);
      } catch {
        /* an error handler that throws: nothing more to tell */
      }
    }
  }

  _setState(state, detail) {
    if (this.state === state) return;
    const from = this.state;
    this.state = state;
    this._emitSafe('statechange', { from, to: state, ...detail });
  }

  // ---- lifecycle ----

  /**
   * Starts connecting (and keeps reconnecting). Resolves with the `connected`
   * message's data when the first connection is up; rejects if the client is
   * closed or gives up before that.
   */
  connect() {
    if (this.state === 'closed') {
      this.attempt = 0;
    }
    if (!this._opened) {
      let resolve, reject;
      const p = new Promise((res, rej) => { resolve = res; reject = rej; });
      p.catch(() => {}); // a caller that does not await it gets no unhandled rejection
      this._opened = { promise: p, resolve, reject };
    }
    const p = this._opened.promise;
    if (this.state === 'idle' || this.state === 'closed') {
      if (this.options.reconnectOnOnline && typeof globalThis.addEventListener === 'function') {
        globalThis.addEventListener('online', this._onOnline);
      }
      this._openSocket();
    } else if (this.state === 'open') {
      this._opened.resolve(this.connectedData);
    }
    return p;
  }

  /** Closes for good (no reconnect). `disconnect()` is the same. */
  close(code = 1000, reason = 'client closed') {
    this._farewell = null;
    const wasOpen = !!this._ws;
    this._clearTimers();
    this._acks = [];
    if (typeof globalThis.removeEventListener === 'function') globalThis.removeEventListener('online', this._onOnline);
    this._failRefreshes('closed', 'the client was closed');
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      this._detach(ws);
      try { ws.close(code, reason); } catch { try { ws.close(); } catch { /* already closed */ } }
    }
    const prev = this.state;
    this._setState('closed', { code, reason });
    if (wasOpen || (prev !== 'closed' && prev !== 'idle')) {
      this._emitSafe('close', { code, reason, wasClean: true, byClient: true, willReconnect: false });
    }
    this._settleOpened(new Error('notifyd: closed before connecting'));
  }

  disconnect(code, reason) {
    this.close(code, reason);
  }

  /** Drops the current connection and connects again at once (resuming). */
  reconnect() {
    if (this.state === 'closed' || this.state === 'idle') return this.connect();
    const ws = this._ws;
    if (ws) {
      this._ws = null;
      this._detach(ws);
      try { ws.close(1000, 'client reconnecting'); } catch { /* ignore */ }
      this._socketGone(ws, { code: 1000, reason: 'client reconnecting', wasClean: true, byClient: true }, true);
    } else {
      clearTimeout(this._timers.retry);
      this._openSocket();
    }
    return this._opened ? this._opened.promise : Promise.resolve(this.connectedData);
  }

  /** Sends `{type, data, timestamp}` if the socket is open; returns whether it was sent. */
  send(type, data = {}) {
    const ws = this._ws;
    if (!ws || ws.readyState !== OPEN) return false;
    try {
      ws.send(JSON.stringify({ type, data, timestamp: Date.now() }));
      return true;
    } catch (e) {
      this._clientError('send_failed', String(e && e.message), e);
      return false;
    }
  }

  /** AutoAdsWebSocket's name for send(). */
  sendMessage(type, data) {
    return this.send(type, data);
  }

  /**
   * Hands the server a new token for the same user before the old one expires.
   * Resolves with `{expires_at}` on `refreshed`; rejects with an Error whose
   * `code` is `refresh_failed`, `bad_refresh`, `not_open` or `timeout`.
   * The new token is also used for later reconnects.
   */
  refresh(newToken) {
    return new Promise((resolve, reject) => {
      if (!this.send('refresh', { token: newToken })) {
        reject(Object.assign(new Error('notifyd: not connected'), { code: 'not_open' }));
        return;
      }
      const entry = { token: newToken, resolve, reject, timer: null };
      entry.timer = setTimeout(() => {
        const i = this._refreshes.indexOf(entry);
        if (i >= 0) this._refreshes.splice(i, 1);
        reject(Object.assign(new Error('notifyd: no answer to refresh'), { code: 'timeout' }));
      }, this.options.refreshTimeoutMs);
      this._refreshes.push(entry);
    });
  }

  // ---- the socket ----

  _openSocket() {
    this._openSocketAsync().catch((e) => {
      this._clientError('internal', `notifyd client bug: ${e && e.message}`, e);
    });
  }

  async _openSocketAsync() {
    clearTimeout(this._timers.retry);
    this._timers.retry = null;
    const attempt = this.attempt;
    this._setState('connecting', { attempt });
    this._emitSafe('connecting', { attempt, url: this._redactedUrl() });
    const gen = (this._gen = (this._gen || 0) + 1);
    let token = this.token;
    const needToken = this.options.getToken && (this._everConnectedAttempted || !token);
    this._everConnectedAttempted = true;
    if (needToken) {
      try {
        token = await this.options.getToken({ attempt, reason: this.clientId ? 'reconnect' : 'connect' });
      } catch (e) {
        token = null;
        this._clientError('get_token_failed', `getToken failed: ${e && e.message}`, e);
      }
      if (gen !== this._gen || this.state !== 'connecting') return; // closed meanwhile
      if (!token) {
        this._retryLater({ code: 0, reason: 'no token', wasClean: false });
        return;
      }
      this.token = token;
    }
    const u = new URL(this.url.href);
    if (token) u.searchParams.set('token', token);
    if (this.lastMessageId) u.searchParams.set('since', this.lastMessageId);
    if (this.options.ack) u.searchParams.set('ack', '1');
    if (this.options.batch) u.searchParams.set('batch', '1');
    let ws;
    try {
      ws = new this.WebSocketImpl(u.href);
    } catch (e) {
      this._clientError('socket_failed', `could not open a WebSocket: ${e && e.message}`, e);
      this._retryLater({ code: 0, reason: String(e && e.message), wasClean: false });
      return;
    }
    this._ws = ws;
    this._resumedFrom = this.lastMessageId;
    ws.onopen = () => {
      if (this._ws !== ws) return;
      if (this.options.sendClientReady) this.send('client_ready', {});
    };
    ws.onmessage = (ev) => {
      if (this._ws === ws) this._onFrame(ev.data);
    };
    ws.onerror = (ev) => {
      if (this._ws === ws) this._clientError('socket_error', 'WebSocket error (the close event tells more)', ev);
    };
    ws.onclose = (ev) => {
      if (this._ws !== ws) return;
      this._ws = null;
      this._socketGone(ws, { code: ev.code, reason: ev.reason || '', wasClean: !!ev.wasClean, byClient: false });
    };
    const ct = this.options.connectTimeoutMs;
    if (ct > 0) {
      clearTimeout(this._timers.connect);
      this._timers.connect = setTimeout(() => {
        if (this._ws !== ws || this.state === 'open') return;
        this._ws = null;
        this._detach(ws);
        try { ws.close(); } catch { /* ignore */ }
        this._socketGone(ws, { code: CloseCode.ABNORMAL, reason: 'connect timeout', wasClean: false, byClient: true });
      }, ct);
    }
  }

  _detach(ws) {
    ws.onopen = ws.onmessage = ws.onerror = null;
    ws.onclose = null;
  }

  _redactedUrl() {
    return this.url.href;
  }

  /** The socket closed (or was given up on): tell, then reconnect or stop. */
  _socketGone(ws, info, immediate = false) {
    clearTimeout(this._timers.idle);
    clearTimeout(this._timers.connect);
    clearTimeout(this._timers.refresh);
    clearTimeout(this._timers.stable);
    clearTimeout(this._timers.ack);
    this._timers.ack = null;
    this._acks = [];
    this._failRefreshes('closed', 'the connection closed');
    // what the server said before closing this socket, if it did
    const said = this._farewell;
    this._farewell = null;
    if (said && !info.byClient) {
      info = { ...info, disconnected: said };
      if (!info.reason && typeof said.reason === 'string') info.reason = said.reason;
    }
    const told = !!(said && !info.byClient && said.reconnect === false); // the server said: do not come back
    const giveUp = told || (this.options.giveUpOn || []).includes(info.code);
    const stop = !this.options.reconnect || giveUp || (!immediate && this.attempt + 1 > this.options.maxAttempts);
    this._emitSafe('close', { ...info, willReconnect: !stop, giveUp });
    if (stop) {
      this._setState('closed', { code: info.code, reason: info.reason });
      if (typeof globalThis.removeEventListener === 'function') globalThis.removeEventListener('online', this._onOnline);
      this._settleOpened(Object.assign(new Error(`notifyd: gave up (close ${info.code} ${info.reason})`), { code: info.code }));
      return;
    }
    if (immediate) {
      this._openSocket();
      return;
    }
    this._retryLater(info);
  }

  _retryLater(info) {
    const o = this.options;
    const n = ++this.attempt;
    if (n > o.maxAttempts) {
      this._setState('closed', { code: info.code, reason: info.reason });
      this._emitSafe('close', { code: info.code, reason: info.reason, wasClean: false, willReconnect: false, giveUp: false });
      this._settleOpened(new Error('notifyd: gave up (maxAttempts)'));
      return;
    }
    const cap = Math.min(o.backoffMaxMs, o.backoffBaseMs * Math.pow(o.backoffFactor, n - 1));
    let delay = cap;
    if (o.jitter === 'full') delay = o.random() * cap;
    else if (o.jitter === 'equal') delay = cap / 2 + (o.random() * cap) / 2;
    delay = Math.round(delay);
    this._setState('waiting', { attempt: n, delay });
    this._emitSafe('reconnecting', { attempt: n, delay, cap, code: info.code, reason: info.reason });
    clearTimeout(this._timers.retry);
    this._timers.retry = setTimeout(() => {
      this._timers.retry = null;
      if (this.state === 'waiting') this._openSocket();
    }, delay);
  }

  _settleOpened(err) {
    const o = this._opened;
    if (!o) return;
    this._opened = null;
    if (err) o.reject(err);
    else o.resolve(this.connectedData);
  }

  _clearTimers() {
    for (const k of Object.keys(this._timers)) {
      clearTimeout(this._timers[k]);
      this._timers[k] = null;
    }
    this._gen = (this._gen || 0) + 1;
  }

  _armIdle() {
    clearTimeout(this._timers.idle);
    let ms = this.options.idleTimeoutMs;
    if (ms === undefined || ms === null) {
      const hb = this.connectedData && this.connectedData.heartbeat_interval;
      ms = hb ? 2 * hb + 5000 : 0;
    }
    if (!(ms > 0)) return;
    const ws = this._ws;
    this._timers.idle = setTimeout(() => {
      if (this._ws !== ws || !ws) return;
      // nothing from the server for two heartbeats: a dead (half-open) connection
      this._ws = null;
      this._detach(ws);
      try { ws.close(4000, 'no heartbeat'); } catch { try { ws.close(); } catch { /* ignore */ } }
      this._socketGone(ws, { code: CloseCode.ABNORMAL, reason: 'no heartbeat from the server', wasClean: false, byClient: true });
    }, ms);
  }

  // ---- messages ----

  _onFrame(raw) {
    this._armIdle();
    if (typeof raw !== 'string') {
      const B = globalThis.Buffer;
      if (B && B.isBuffer(raw)) {
        raw = raw.toString('utf8'); // Node WebSocket libraries
      } else {
        this._clientError('bad_frame', 'a binary frame from the server', raw);
        return;
      }
    }
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch (e) {
      this._clientError('bad_json', `the server sent malformed JSON: ${e.message}`, e);
      return;
    }
    if (!msg || typeof msg.type !== 'string') {
      this._clientError('bad_message', 'a server message without a type', msg);
      return;
    }
    if (msg.type === 'batch' && msg.data && Array.isArray(msg.data.messages)) {
      // ?batch=1: several envelopes in one frame; each goes through the same steps as a
      // frame of its own (dedupe, lastMessageId, handlers, ack), in order
      const ws = this._ws;
      for (const m of msg.data.messages) {
        if (this._ws !== ws) break; // a handler closed or replaced the connection: the rest comes again
        if (!m || typeof m.type !== 'string') {
          this._clientError('bad_message', 'a batched message without a type', m);
          continue;
        }
        this._onMessage(m);
      }
      return;
    }
    this._onMessage(msg);
  }

  _onMessage(msg) {
    switch (msg.type) {
      case 'ping':
        this.send('pong', {});
        break;
      case 'connected':
        this._onConnected(msg);
        break;
      case 'refreshed':
        this._onRefreshed(msg);
        break;
      case 'disconnected': // the server is about to close this socket: why, and whether to come back
        if (msg.data && typeof msg.data === 'object') this._farewell = msg.data;
        break;
      case 'error':
        this._onServerError(msg);
        return; // dispatched there
      default:
        break;
    }
    const id = msg.message_id;
    if (typeof id === 'string' && id) {
      if (!this.lastMessageId || id > this.lastMessageId) this.lastMessageId = id;
      if (this._seen.has(id)) {
        if (this._ackable(msg)) this._queueAck(id); // handled before, but its ack was lost
        this._emitSafe('duplicate', msg);
        return;
      }
      this._remember(id);
    }
    this._dispatch(msg);
  }

  _dispatch(msg) {
    const data = msg.data === undefined ? {} : msg.data;
    const parts = [this._emit(msg.type, data, msg), this._emit('message', msg)].filter(Boolean);
    const results = parts.length ? Promise.all(parts) : null;
    const id = msg.message_id;
    const onFail = (e) => {
      if (id && this._ackable(msg)) this._forget(id); // not acked: it comes again on reconnect
      this._clientError('handler_failed', `a "${msg.type}" handler threw: ${e && e.message}`, e);
    };
    if (!id || !this.options.ack || !this._ackable(msg)) {
      if (results) results.catch(onFail);
      return;
    }
    if (!results) this._queueAck(id);
    else results.then(() => this._queueAck(id), onFail);
  }

  _ackable(msg) {
    if (!this.options.ack || !msg.message_id) return false;
    const t = this.options.ackTypes;
    return t === 'all' || (Array.isArray(t) && t.includes(msg.type));
  }

  _remember(id) {
    this._seen.add(id);
    this._seenOrder.push(id);
    const max = Math.max(1, this.options.dedupeSize | 0);
    while (this._seenOrder.length > max) this._seen.delete(this._seenOrder.shift());
  }

  _forget(id) {
    this._seen.delete(id);
    const i = this._seenOrder.lastIndexOf(id);
    if (i >= 0) this._seenOrder.splice(i, 1);
  }

  /** Acks go out at once, or at most `ackRate` per second (burst 2×) when it is set. notifyd does
   * not count an ack for a message it sent against the connection's message rate. */
  _queueAck(id) {
    if (!this._ws) return; // the message comes again on the next connection and is acked then
    this._acks.push(id);
    this._flushAcks();
  }

  _flushAcks() {
    if (!(this.options.ackRate > 0)) {
      while (this._acks.length) {
        if (!this.send('ack', { message_id: this._acks.shift() })) {
          this._acks = [];
          return;
        }
      }
      return;
    }
    const rate = this.options.ackRate;
    const now = Date.now();
    this._ackTokens = Math.min(rate * 2, this._ackTokens + ((now - this._ackRefillAt) / 1000) * rate);
    this._ackRefillAt = now;
    while (this._acks.length && this._ackTokens >= 1) {
      const id = this._acks.shift();
      if (!this.send('ack', { message_id: id })) {
        this._acks = [];
        return;
      }
      this._ackTokens -= 1;
    }
    if (this._acks.length && !this._timers.ack) {
      const wait = Math.ceil(((1 - this._ackTokens) / rate) * 1000);
      this._timers.ack = setTimeout(() => {
        this._timers.ack = null;
        this._flushAcks();
      }, Math.max(1, wait));
    }
  }

  _onConnected(msg) {
    const d = msg.data || {};
    clearTimeout(this._timers.connect);
    this.connectedData = d;
    this.clientId = d.client_id || null;
    if (typeof d.server_time === 'number') this._clockOffset = d.server_time - Date.now();
    const resumed = !!this._resumedFrom;
    this._setState('open', { clientId: this.clientId });
    this._armIdle();
    clearTimeout(this._timers.stable);
    const stable = this.options.stableAfterMs;
    if (stable > 0) {
      this._timers.stable = setTimeout(() => {
        if (this.state === 'open') this.attempt = 0;
      }, stable);
    } else {
      this.attempt = 0;
    }
    this._scheduleRefresh(d.token_expires_at);
    this._emitSafe('open', {
      clientId: this.clientId,
      userId: d.user_id,
      resumed,
      since: this._resumedFrom || null,
      recovered: d.recovered !== false,
      tokenExpiresAt: d.token_expires_at || null,
      data: d,
    });
    this._settleOpened(null);
  }

  _scheduleRefresh(expiresAt) {
    clearTimeout(this._timers.refresh);
    this._timers.refresh = null;
    const o = this.options;
    if (!o.getToken || !(o.refreshAheadMs > 0) || !expiresAt) return;
    const serverNow = Date.now() + this._clockOffset;
    const wait = Math.max(0, expiresAt * 1000 - serverNow - o.refreshAheadMs);
    const ws = this._ws;
    this._timers.refresh = setTimeout(async () => {
      if (this._ws !== ws || this.state !== 'open') return;
      try {
        const t = await o.getToken({ attempt: 0, reason: 'refresh' });
        if (!t || this._ws !== ws) return;
        await this.refresh(t);
      } catch (e) {
        this._clientError('refresh_failed', `automatic token refresh failed: ${e && e.message}`, e);
      }
    }, Math.min(wait, 2147483647));
  }

  _onRefreshed(msg) {
    const entry = this._refreshes.shift();
    const exp = msg.data ? msg.data.expires_at : null;
    if (entry) {
      clearTimeout(entry.timer);
      this.token = entry.token;
      entry.resolve({ expires_at: exp });
    }
    if (this.connectedData) this.connectedData.token_expires_at = exp;
    this._scheduleRefresh(exp);
  }

  _failRefreshes(code, message) {
    const list = this._refreshes;
    this._refreshes = [];
    for (const e of list) {
      clearTimeout(e.timer);
      e.reject(Object.assign(new Error(`notifyd: ${message}`), { code }));
    }
  }

  _onServerError(msg) {
    const d = msg.data || {};
    if ((d.code === 'refresh_failed' || d.code === 'bad_refresh') && this._refreshes.length) {
      const entry = this._refreshes.shift();
      clearTimeout(entry.timer);
      entry.reject(Object.assign(new Error(d.message || d.code), { code: d.code }));
    }
    const set = this._handlers.get('error');
    const r = this._emit('message', msg);
    if (r) r.catch(() => {});
    if (!set || set.size === 0) {
      if (globalThis.console) console.warn(`notifyd: server error ${d.code}: ${d.message}`);
      return;
    }
    for (const h of [...set]) {
      try {
        h({ code: d.code, message: d.message, server: true }, msg);
      } catch {
        /* ignore */
      }
    }
  }
}

/** `createClient(options)` is `new NotifydClient(options)`. */
export function createClient(options) {
  return new NotifydClient(options);
}

export { STATE_EVENTS };
export default NotifydClient;
