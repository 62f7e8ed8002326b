// notifyd web console: live counts and online users (GET /api/websocket/stats)
// with a disconnect button each, a form to send a system notification or a
// test message, one to publish an event of any type, and a live log of one
// user's messages over /ws through the browser client (./notifyd.js).
// No build step; everything from the server is shown with textContent.
import { NotifydClient, decodeToken } from './notifyd.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;
const LOG_MAX = 500;
const store = window.sessionStorage;

const state = {
  base: '',
  adminToken: '',
  pollTimer: null,
  live: null,
};

// ---- settings: the notifyd base URL (default: this page's origin) and the admin token ----

function initialBase() {
  const q = new URLSearchParams(location.search).get('server');
  return (q || store.getItem('notifyd.server') || location.origin).replace(/\/+$/, '');
}

function applySettings() {
  state.base = ($('server').value.trim() || location.origin).replace(/\/+$/, '');
  state.adminToken = $('admin-token').value.trim();
  store.setItem('notifyd.server', state.base);
  if (state.adminToken) store.setItem('notifyd.adminToken', state.adminToken);
  else store.removeItem('notifyd.adminToken');
  restartPolling();
}

/** A REST call; @body is an object, or JSON text sent as it is. */
async function api(method, route, body) {
  const headers = { accept: 'application/json' };
  if (state.adminToken) headers.authorization = `Bearer ${state.adminToken}`;
  if (body) headers['content-type'] = 'application/json';
  const text = typeof body === 'string' ? body : body ? JSON.stringify(body) : undefined;
  let res;
  try {
    res = await fetch(state.base + route, { method, headers, body: text, cache: 'no-store' });
  } catch (e) {
    return { ok: false, status: 0, message: `cannot reach ${state.base}: ${e.message}` };
  }
  let json = null;
  try {
    json = await res.json();
  } catch {
    /* not JSON */
  }
  const ok = res.ok && json && json.code === 0;
  return { ok, status: res.status, data: json && json.data, message: (json && json.message) || res.statusText };
}

// ---- live counts ----

function fmtUptime(s) {
  if (typeof s !== 'number') return '–';
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  return `${m}m ${s % 60}s`;
}

function showStatsError(msg) {
  const el = $('stats-error');
  el.textContent = msg || '';
  el.hidden = !msg;
}

function renderStats(s) {
  $('stat-connections').textContent = String(s.total_connections ?? 0);
  $('stat-users').textContent = String(s.online_users ?? 0);
  $('stat-messages').textContent = String(s.messages_total ?? 0);
  $('stat-deliveries').textContent = String(s.deliveries_total ?? 0);
  $('stat-uptime').textContent = fmtUptime(s.uptime_seconds);
  $('stats-updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  const users = Array.isArray(s.connected_users) ? s.connected_users : [];
  const list = $('online-users');
  const items = users.map((u) => {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'user';
    name.textContent = u;
    const pick = document.createElement('button');
    pick.type = 'button';
    pick.className = 'small pick';
    pick.textContent = 'send…';
    pick.title = `fill the forms with ${u}`;
    pick.addEventListener('click', () => {
      $('send-user').value = u;
      $('publish-to').value = u;
      $('send-message').focus();
    });
    const kick = document.createElement('button');
    kick.type = 'button';
    kick.className = 'small kick';
    kick.textContent = 'disconnect';
    kick.title = `close every connection of ${u} (4004; told not to reconnect; role admin)`;
    kick.addEventListener('click', () => disconnectUser(u));
    li.append(name, pick, kick);
    return li;
  });
  list.replaceChildren(...items);
  $('online-empty').hidden = users.length > 0;
}

async function pollOnce() {
  if (!state.adminToken) {
    showStatsError('Paste an admin token (role admin or service) above to see the live counts: notifyd token --user ops --role admin');
    return;
  }
  const r = await api('GET', '/api/websocket/stats');
  if (r.ok) {
    showStatsError('');
    renderStats(r.data || {});
  } else {
    showStatsError(`stats: ${r.status ? `HTTP ${r.status}: ` : ''}${r.message}`);
  }
}

async function pollReady() {
  const el = $('server-status');
  try {
    const res = await fetch(`${state.base}/readyz`, { cache: 'no-store' });
    const j = await res.json().catch(() => ({}));
    el.textContent = j.status || `HTTP ${res.status}`;
    el.dataset.state = res.ok ? 'ok' : 'warn';
  } catch {
    el.textContent = 'unreachable';
    el.dataset.state = 'bad';
  }
}

function restartPolling() {
  clearTimeout(state.pollTimer);
  const loop = async () => {
    await Promise.all([pollOnce(), pollReady()]);
    state.pollTimer = setTimeout(loop, POLL_MS);
  };
  loop();
}

// ---- sending ----

function showResult(text, ok) {
  const el = $('send-result');
  el.textContent = text;
  el.dataset.ok = ok ? 'true' : 'false';
}

function describeSend(what, r) {
  if (!r.ok) return `${what} failed: ${r.status ? `HTTP ${r.status}: ` : ''}${r.message}`;
  const d = r.data || {};
  const stored = d.stored ? ', kept for later' : '';
  return `${what} ${d.message_id} reached ${d.connections} connection(s)${stored}`;
}

async function sendNotification(ev) {
  ev.preventDefault();
  const body = { user_id: $('send-user').value.trim(), message: $('send-message').value, level: $('send-level').value };
  const title = $('send-title-input').value;
  const action = $('send-action').value.trim();
  const actionUrl = $('send-action-url').value.trim();
  if (title) body.title = title;
  if (action) body.action = action;
  if (actionUrl) body.action_url = actionUrl;
  showResult('sending…', true);
  const r = await api('POST', '/api/websocket/notification', body);
  showResult(describeSend('notification', r), r.ok);
  if (r.ok) pollOnce();
}

async function sendTest() {
  const user = $('send-user').value.trim();
  if (!user) {
    showResult('user id needed', false);
    $('send-user').focus();
    return;
  }
  showResult('sending…', true);
  const r = await api('GET', `/api/websocket/test?user_id=${encodeURIComponent(user)}`);
  showResult(describeSend('test message', r), r.ok);
}

// ---- your own events, and closing a user's connections ----

function showPublishResult(text, ok) {
  const el = $('publish-result');
  el.textContent = text;
  el.dataset.ok = ok ? 'true' : 'false';
}

async function publish(ev) {
  ev.preventDefault();
  const dataText = $('publish-data').value.trim() || '{}';
  try {
    const v = JSON.parse(dataText);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('it must be a JSON object');
  } catch (e) {
    showPublishResult(`data is not a JSON object: ${e.message}`, false);
    return;
  }
  const fields = { type: $('publish-type').value.trim() };
  const to = $('publish-to').value.split(',').map((x) => x.trim()).filter(Boolean);
  if ($('publish-everyone').checked) fields.broadcast = true;
  else if (to.length > 1) fields.user_ids = to;
  else fields.user_id = to[0] || '';
  fields.store = $('publish-store').value;
  const ttl = $('publish-ttl').value.trim();
  if (ttl) fields.ttl_ms = Number(ttl);
  fields.priority = $('publish-priority').value;
  const group = $('publish-group').value.trim();
  if (group) fields.group = group;
  // data goes as written: the body is built around its text
  const body = `${JSON.stringify(fields).slice(0, -1)},"data":${dataText}}`;
  showPublishResult('publishing…', true);
  const r = await api('POST', '/api/websocket/publish', body);
  if (!r.ok) {
    showPublishResult(`publish failed: ${r.status ? `HTTP ${r.status}: ` : ''}${r.message}`, false);
    return;
  }
  const d = r.data || {};
  showPublishResult(d.message_ids
    ? `${fields.type} to ${d.users} user(s): ${d.reached} reached on ${d.connections} connection(s), ${d.stored_users} kept for later (${d.message_ids.join(' ')})`
    : `${fields.type} ${d.message_id} reached ${d.connections} connection(s)${d.stored ? ', kept for later' : ''}`, true);
  pollOnce();
}

async function disconnectUser(user) {
  const el = $('online-result');
  const r = await api('POST', `/api/websocket/user/${encodeURIComponent(user)}/disconnect`,
    { reason: 'disconnected from the notifyd console', reconnect: false });
  el.textContent = r.ok ? `${user}: ${r.data.closed} connection(s) closed` : `disconnect ${user} failed: ${r.status ? `HTTP ${r.status}: ` : ''}${r.message}`;
  el.dataset.ok = r.ok ? 'true' : 'false';
  if (r.ok) pollOnce();
}

// ---- live log ----

function wsUrlOf(base) {
  const u = new URL(base);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/ws`;
  u.search = '';
  return u.href;
}

function setLiveStatus(text, st) {
  const el = $('live-status');
  el.textContent = text;
  el.dataset.state = st;
}

function logLine(kind, type, detail, id) {
  const log = $('live-log');
  const li = document.createElement('li');
  li.className = `entry ${kind}`;
  li.dataset.type = type;
  if (id) li.dataset.messageId = id;
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString();
  const t = document.createElement('span');
  t.className = 'type';
  t.textContent = type;
  li.append(time, t);
  if (id) {
    const i = document.createElement('span');
    i.className = 'id';
    i.textContent = id;
    li.append(i);
  }
  if (detail !== undefined && detail !== '') {
    const pre = document.createElement('code');
    pre.className = 'data';
    pre.textContent = typeof detail === 'string' ? detail : JSON.stringify(detail);
    li.append(pre);
  }
  log.prepend(li);
  while (log.children.length > LOG_MAX) log.lastElementChild.remove();
}

function disconnectLive() {
  if (state.live) {
    state.live.close();
    state.live = null;
  }
  $('live-connect').disabled = false;
  $('live-disconnect').disabled = true;
}

function connectLive(ev) {
  ev.preventDefault();
  const tok = $('live-token').value.trim();
  if (!tok) {
    setLiveStatus('paste a user token first (notifyd token --user ID)', 'bad');
    return;
  }
  disconnectLive();
  const claims = decodeToken(tok) || {};
  const who = claims.user_id ?? claims.sub ?? '?';
  // ack mode without acks: kept messages stay kept for the user's real tabs. A plain
  // connection would count as the user's and consume their offline messages.
  const client = new NotifydClient({ url: wsUrlOf(state.base), token: tok, ack: true, ackTypes: [], backoffMaxMs: 15000 });
  state.live = client;
  client.on('connecting', (e) => setLiveStatus(e.attempt ? `reconnecting as ${who} (attempt ${e.attempt})…` : `connecting as ${who}…`, 'warn'));
  client.on('open', (e) => {
    setLiveStatus(`connected as ${e.userId} (${e.clientId})`, 'ok');
    logLine('state', 'open', e.resumed ? `resumed after ${e.since}${e.recovered ? '' : ' — some messages may be missing'}` : `client ${e.clientId}`);
  });
  client.on('close', (e) => {
    logLine('state', 'close', `${e.code}${e.reason ? ` ${e.reason}` : ''}${e.willReconnect ? '' : ' — stopped'}`);
    if (!e.willReconnect) {
      setLiveStatus(`closed (${e.code})`, 'bad');
      $('live-connect').disabled = false;
      $('live-disconnect').disabled = true;
    }
  });
  client.on('reconnecting', (e) => {
    setLiveStatus(`disconnected; retry ${e.attempt} in ${(e.delay / 1000).toFixed(1)} s`, 'warn');
  });
  client.on('error', (e) => {
    if (e.server) logLine('error', 'error', `${e.code}: ${e.message}`);
  });
  client.on('message', (m) => {
    if (m.type === 'error') return; // logged above
    if ((m.type === 'ping' || m.type === 'pong') && !$('live-heartbeats').checked) return;
    logLine(m.message_id ? 'message' : 'control', m.type, m.data, m.message_id);
  });
  $('live-connect').disabled = true;
  $('live-disconnect').disabled = false;
  if (claims.user_id || claims.sub) $('send-user').value = $('send-user').value || String(who);
  client.connect().catch(() => {});
}

// ---- start ----

function init() {
  state.base = initialBase();
  state.adminToken = store.getItem('notifyd.adminToken') || '';
  $('server').value = state.base;
  $('admin-token').value = state.adminToken;
  $('settings').addEventListener('submit', (ev) => {
    ev.preventDefault();
    applySettings();
  });
  $('send-form').addEventListener('submit', sendNotification);
  $('send-test').addEventListener('click', sendTest);
  $('publish-form').addEventListener('submit', publish);
  $('live-form').addEventListener('submit', connectLive);
  $('live-disconnect').addEventListener('click', () => {
    disconnectLive();
    setLiveStatus('not connected', 'idle');
  });
  $('live-clear').addEventListener('click', () => $('live-log').replaceChildren());
  restartPolling();
  document.documentElement.dataset.ready = 'true';
}

init();
