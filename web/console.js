// notifyd web console: live counts and online users (GET /api/websocket/stats)
// with a disconnect button each, a user's backlog, a user's feed (counts,
// items page by page, marking read/unread/archived), a form to send a system
// notification (one user, several, everyone; priority, group, a template) or
// a test message, the templates (list, view, create/replace, delete), one to
// publish an event of any type, and a live log of one user's messages over
// /ws through the browser client (./notifyd.js).
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

// the feed on show: whose, which filter and page size, the pages loaded
const feed = {
  user: '',
  filter: 'inbox',
  limit: 20,
  pages: 0,
  next: '',
  seq: 0,
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
  loadTemplates();
  syncFeedHint();
  if (feed.user && state.adminToken) {
    loadFeed(Math.max(feed.pages, 1));
  } else {
    ++feed.seq; // a page still coming is not shown
    setFeedBusy(false);
    hideFeed();
    showText('feed-error', '');
  }
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

/** Shows @msg in @id (hidden when empty). */
function showText(id, msg) {
  const el = $(id);
  el.textContent = msg || '';
  el.hidden = !msg;
}

/** A failed call in words: "HTTP 403: why". */
function failure(r) {
  return `${r.status ? `HTTP ${r.status}: ` : ''}${r.message}`;
}

/** The time a message id encodes (its top 48 bits: unix ms), as local time. */
function idTime(id) {
  if (!/^[0-9a-f]{16}$/.test(id || '')) return '';
  return new Date(Number(BigInt(`0x${id}`) >> 16n)).toLocaleString();
}

/** Message ids for a result line: the first few, then how many more. */
function idList(ids) {
  const SHOW = 5;
  return ids.length > SHOW ? `${ids.slice(0, SHOW).join(' ')} … ${ids.length - SHOW} more` : ids.join(' ');
}

/** Ids typed in one field, separated by commas, in order, once each. */
function idsOf(text) {
  return [...new Set(text.split(',').map((x) => x.trim()).filter(Boolean))];
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
    name.title = u;
    const pick = document.createElement('button');
    pick.type = 'button';
    pick.className = 'small pick';
    pick.textContent = 'send…';
    pick.title = `fill the forms with ${u}`;
    pick.addEventListener('click', () => {
      $('send-everyone').checked = false;
      $('send-user').value = u;
      $('publish-to').value = u;
      $('lookup-user').value = u;
      $('feed-user').value = u;
      syncSendForm();
      $('send-message').focus();
    });
    const show = document.createElement('button');
    show.type = 'button';
    show.className = 'small show-feed';
    show.textContent = 'feed';
    show.title = `show the feed of ${u}`;
    show.addEventListener('click', () => openFeedOf(u));
    const kick = document.createElement('button');
    kick.type = 'button';
    kick.className = 'small kick';
    kick.textContent = 'disconnect';
    kick.title = `close every connection of ${u} (4004; told not to reconnect; role admin)`;
    kick.addEventListener('click', () => disconnectUser(u));
    li.append(name, pick, show, kick);
    return li;
  });
  list.replaceChildren(...items);
  $('online-empty').hidden = users.length > 0;
}

/** The way to start, in words and a command to copy. */
function showTokenHint(show) {
  const el = $('stats-hint');
  el.hidden = !show;
  if (!show || el.childNodes.length) return;
  const cmd = document.createElement('code');
  cmd.textContent = 'notifyd token --user ops --role admin';
  el.append('Paste an admin token (role admin or service) above and press Use to see the live counts. Mint one on the server: ', cmd);
}

async function pollOnce() {
  if (!state.adminToken) {
    showText('stats-error', '');
    showTokenHint(true);
    return;
  }
  showTokenHint(false);
  const r = await api('GET', '/api/websocket/stats');
  if (r.ok) {
    showText('stats-error', '');
    renderStats(r.data || {});
  } else {
    showText('stats-error', `stats: ${failure(r)}`);
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

// ---- sending: one user, several, everyone; with a template or title and message ----

function showResult(text, ok) {
  const el = $('send-result');
  el.textContent = text;
  el.dataset.ok = ok ? 'true' : 'false';
}

function describeSend(what, r) {
  if (!r.ok) return `${what} failed: ${failure(r)}`;
  const d = r.data || {};
  if (d.message_ids) {
    return `${what} to ${d.users} user(s): ${d.reached} reached on ${d.connections} connection(s), `
      + `${d.stored} kept for later (${idList(d.message_ids)})`;
  }
  const stored = d.stored ? ', kept for later' : '';
  return `${what} ${d.message_id} reached ${d.connections} connection(s)${stored}`;
}

/** The form follows its choices: no recipients for everyone, no title/message with a template. */
function syncSendForm() {
  const everyone = $('send-everyone').checked;
  const tpl = $('send-template').value;
  $('send-user').disabled = everyone;
  $('send-title-input').disabled = Boolean(tpl);
  $('send-message').disabled = Boolean(tpl);
  $('send-params-label').hidden = !tpl;
  $('send-test').disabled = everyone;
}

/** The JSON object typed in @id, or an Error saying why not. */
function objectIn(id) {
  try {
    const v = JSON.parse($(id).value.trim() || '{}');
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return new Error('it must be a JSON object');
    return v;
  } catch (e) {
    return e;
  }
}

async function sendNotification(ev) {
  ev.preventDefault();
  const everyone = $('send-everyone').checked;
  const ids = idsOf($('send-user').value);
  if (!everyone && !ids.length) {
    showResult('To: a user id, several separated by commas, or everyone', false);
    $('send-user').focus();
    return;
  }
  const body = {};
  if (!everyone) {
    if (ids.length > 1) body.user_ids = ids;
    else body.user_id = ids[0];
  }
  const tpl = $('send-template').value;
  if (tpl) {
    const params = objectIn('send-params');
    if (params instanceof Error) {
      showResult(`params are not a JSON object: ${params.message}`, false);
      return;
    }
    body.template_id = tpl;
    if (Object.keys(params).length) body.params = params;
  } else {
    const title = $('send-title-input').value;
    if (title) body.title = title;
    body.message = $('send-message').value;
  }
  body.level = $('send-level').value;
  const action = $('send-action').value.trim();
  const actionUrl = $('send-action-url').value.trim();
  if (action) body.action = action;
  if (actionUrl) body.action_url = actionUrl;
  body.priority = $('send-priority').value;
  const group = $('send-group').value.trim();
  if (group) body.group = group;
  showResult('sending…', true);
  const r = await api('POST', everyone ? '/api/websocket/broadcast' : '/api/websocket/notification', body);
  showResult(describeSend(everyone ? 'broadcast' : 'notification', r), r.ok);
  if (r.ok) pollOnce();
}

async function sendTest() {
  const ids = idsOf($('send-user').value);
  if (ids.length !== 1) {
    showResult(ids.length ? 'a test message goes to one user' : 'user id needed', false);
    $('send-user').focus();
    return;
  }
  showResult('sending…', true);
  const r = await api('GET', `/api/websocket/test?user_id=${encodeURIComponent(ids[0])}`);
  showResult(describeSend('test message', r), r.ok);
}

// ---- a user: online, and what is kept for them ----

function showLookup(text, ok) {
  const el = $('lookup-result');
  el.textContent = text;
  el.dataset.ok = ok ? 'true' : 'false';
}

async function lookUp(ev) {
  ev.preventDefault();
  const user = $('lookup-user').value.trim();
  const path = `/api/websocket/user/${encodeURIComponent(user)}`;
  showLookup('looking…', true);
  const [online, backlog] = await Promise.all([api('GET', `${path}/online`), api('GET', `${path}/backlog`)]);
  const bad = [online, backlog].find((r) => !r.ok);
  if (bad) {
    $('lookup-out').hidden = true;
    showLookup(`${user}: ${failure(bad)}`, false);
    return;
  }
  const o = online.data;
  const b = backlog.data;
  const at = (id) => (id ? `${id} (${idTime(id)})` : '–');
  $('lookup-online').textContent = o.is_online ? `yes, ${o.connections} connection(s)` : 'no';
  $('lookup-backlog').textContent = `${b.messages} message(s)`;
  $('lookup-oldest').textContent = at(b.oldest_message_id);
  $('lookup-newest').textContent = at(b.newest_message_id);
  $('lookup-out').hidden = false;
  showLookup(b.messages
    ? `${b.user_id}: ${b.messages} message(s) kept, waiting since ${idTime(b.oldest_message_id)}`
    : `${b.user_id}: nothing kept`, true);
}

// ---- a user's feed: counts, items newest first, marking ----

/** What an empty page says, by filter. */
const FEED_EMPTY = {
  inbox: (u) => `Nothing in ${u}'s inbox.`,
  unread: (u) => `Nothing unread for ${u}.`,
  archived: (u) => `Nothing archived for ${u}.`,
  all: (u) => `Nothing in ${u}'s feed.`,
};

function feedPath(user) {
  return `/api/websocket/feed/${encodeURIComponent(user)}`;
}

function showFeedResult(text, ok) {
  const el = $('feed-result');
  el.textContent = text;
  el.dataset.ok = ok ? 'true' : 'false';
}

/** Without an admin token the panel says how to start, as a hint. */
function syncFeedHint() {
  showText('feed-hint', state.adminToken ? '' : 'Paste an admin token (role admin or service) above to read a user\'s feed.');
}

/** A refused call in words: a user's token is told which role the feed needs. */
function feedFailure(user, r) {
  if (r.status === 403) return `The feed needs a token with role admin or service; this one is refused (${failure(r)}).`;
  if (r.status === 401) return `The admin token is refused (${failure(r)}); paste a valid one above.`;
  return `${user}: ${failure(r)}`;
}

/** The data of an item in two lines: its title and message, or its data as JSON. */
function feedPreview(item) {
  const d = item.data && typeof item.data === 'object' ? item.data : {};
  const title = typeof d.title === 'string' ? d.title : '';
  const message = typeof d.message === 'string' ? d.message : '';
  if (title || message) return { title, message };
  const json = JSON.stringify(item.data ?? null);
  return { title: '', message: json.length > 300 ? `${json.slice(0, 300)}…` : json };
}

function feedButton(label, cls, title, fn) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = `small ${cls}`;
  b.textContent = label;
  b.title = title;
  b.addEventListener('click', fn);
  return b;
}

function feedRow(item) {
  const li = document.createElement('li');
  li.dataset.id = item.id;
  li.dataset.read = String(Boolean(item.read));
  li.dataset.seen = String(Boolean(item.seen));
  li.dataset.archived = String(Boolean(item.archived));
  const head = document.createElement('div');
  head.className = 'head';
  const type = document.createElement('span');
  type.className = 'type';
  type.textContent = item.type;
  const time = document.createElement('time');
  const when = typeof item.timestamp === 'number' ? new Date(item.timestamp) : null;
  if (when) time.dateTime = when.toISOString();
  time.textContent = when ? when.toLocaleString() : idTime(item.id);
  const tags = document.createElement('span');
  tags.className = 'tags';
  const tag = (name) => {
    const t = document.createElement('span');
    t.className = `tag ${name}`;
    t.textContent = name;
    return t;
  };
  tags.append(tag(item.read ? 'read' : 'unread'));
  if (!item.seen) tags.append(tag('unseen'));
  if (item.archived) tags.append(tag('archived'));
  if (item.priority && item.priority !== 'normal') tags.append(tag(item.priority));
  head.append(type, time, tags);
  if (item.group) {
    const g = document.createElement('span');
    g.className = 'group';
    g.textContent = `group ${item.group}`;
    g.title = item.group;
    head.append(g);
  }
  const id = document.createElement('span');
  id.className = 'id';
  id.textContent = item.id;
  head.append(id);
  li.append(head);
  const { title, message } = feedPreview(item);
  if (title) {
    const t = document.createElement('div');
    t.className = 'title';
    t.textContent = title;
    t.title = title;
    li.append(t);
  }
  if (message) {
    const m = document.createElement('div');
    m.className = 'preview';
    m.textContent = message;
    m.title = message;
    li.append(m);
  }
  const buttons = document.createElement('span');
  buttons.className = 'buttons';
  buttons.append(
    item.read
      ? feedButton('unread', 'mark-unread', `mark ${item.id} unread`, () => markFeed([item.id], 'unread'))
      : feedButton('read', 'mark-read', `mark ${item.id} read`, () => markFeed([item.id], 'read')),
    item.archived
      ? feedButton('unarchive', 'mark-unarchive', `back to the inbox: ${item.id}`, () => markFeed([item.id], 'unarchive'))
      : feedButton('archive', 'mark-archive', `archive ${item.id}`, () => markFeed([item.id], 'archive')),
  );
  li.append(buttons);
  return li;
}

function renderFeed(counts, items, next) {
  $('feed-total').textContent = String(counts.total ?? 0);
  $('feed-unseen').textContent = String(counts.unseen ?? 0);
  $('feed-unread').textContent = String(counts.unread ?? 0);
  $('feed-who').textContent = `${feed.user} · ${feed.filter}`;
  $('feed-who').title = feed.user;
  $('feed-list').replaceChildren(...items.map(feedRow));
  $('feed-empty').textContent = FEED_EMPTY[feed.filter](feed.user);
  $('feed-empty').hidden = items.length > 0;
  feed.next = next;
  $('feed-older').hidden = !next;
  $('feed-shown').textContent = items.length ? `${items.length} shown${next ? ', older ones left' : ', the oldest reached'}` : '';
  $('feed-view').hidden = false;
}

/** Buttons of the view off while a call is under way (no double marks). */
function setFeedBusy(busy) {
  $('feed-panel').dataset.busy = String(busy);
  for (const b of $('feed-view').querySelectorAll('button')) b.disabled = busy;
  $('feed-open').disabled = busy;
}

/** One page of the feed on show: {items, next} or the failed call. */
async function feedPage(before) {
  const q = new URLSearchParams({ limit: String(feed.limit), filter: feed.filter });
  if (before) q.set('before', before);
  const r = await api('GET', `${feedPath(feed.user)}?${q}`);
  if (!r.ok) return { fail: r };
  const d = r.data || {};
  return { items: Array.isArray(d.items) ? d.items : [], next: d.next_before || '' };
}

/** The counts and the first @pages pages again; true when shown. */
async function loadFeed(pages) {
  const seq = ++feed.seq;
  setFeedBusy(true);
  try {
    const counts = api('GET', `${feedPath(feed.user)}/counts`);
    const items = [];
    let next = '';
    let got = 0;
    do {
      const p = await feedPage(next);
      if (seq !== feed.seq) return false;
      if (p.fail) return feedFailed(p.fail);
      items.push(...p.items);
      next = p.next;
      got++;
    } while (next && got < pages);
    const c = await counts;
    if (seq !== feed.seq) return false;
    if (!c.ok) return feedFailed(c);
    feed.pages = got;
    showText('feed-error', '');
    renderFeed(c.data || {}, items, next);
    return true;
  } finally {
    if (seq === feed.seq) setFeedBusy(false);
  }
}

/** Nothing of a feed left on show: a refused token sees no earlier answer. */
function hideFeed() {
  $('feed-view').hidden = true;
  $('feed-list').replaceChildren();
  feed.next = '';
}

function feedFailed(r) {
  hideFeed();
  showText('feed-error', feedFailure(feed.user, r));
  return false;
}

/** Opens the feed of the form's user with its filter and page size. */
async function openFeed(ev) {
  if (ev) ev.preventDefault();
  const user = $('feed-user').value.trim();
  const limitText = $('feed-limit').value.trim();
  const limit = Number(limitText || '20');
  showFeedResult('', true);
  if (!user) {
    hideFeed();
    showText('feed-error', 'User id: whose feed? Type a user id, or pick one from the online users.');
    $('feed-user').focus();
    return;
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    showText('feed-error', `Per page: a whole number from 1 to 100, not "${limitText}".`);
    $('feed-limit').focus();
    return;
  }
  if (!state.adminToken) {
    syncFeedHint();
    showText('feed-error', '');
    hideFeed();
    return;
  }
  Object.assign(feed, { user, filter: $('feed-filter').value, limit, pages: 0, next: '' });
  await loadFeed(1);
}

function openFeedOf(user) {
  $('feed-user').value = user;
  openFeed();
  $('feed-panel').scrollIntoView({ block: 'start', behavior: 'smooth' });
}

/** The next page, after what is shown. */
async function olderFeed() {
  if (!feed.next) return;
  const seq = ++feed.seq;
  setFeedBusy(true);
  try {
    const p = await feedPage(feed.next);
    if (seq !== feed.seq) return;
    if (p.fail) {
      showFeedResult(`older: ${feedFailure(feed.user, p.fail)}`, false);
      return;
    }
    $('feed-list').append(...p.items.map(feedRow));
    feed.pages++;
    feed.next = p.next;
    $('feed-older').hidden = !p.next;
    const n = $('feed-list').children.length;
    $('feed-shown').textContent = `${n} shown${p.next ? ', older ones left' : ', the oldest reached'}`;
  } finally {
    if (seq === feed.seq) setFeedBusy(false);
  }
}

/** @action on the items @ids, or on every item when @ids is 'all'; then the pages again. */
async function markFeed(ids, action) {
  const all = ids === 'all';
  const what = all ? `every item ${action}` : `${action} ${idList(ids)}`;
  ++feed.seq; // a page still coming is stale now
  setFeedBusy(true);
  showFeedResult(`${what}…`, true);
  const r = await api('POST', `${feedPath(feed.user)}/mark`, all ? { all: true, action } : { ids, action });
  if (!r.ok) {
    setFeedBusy(false);
    showFeedResult(`${what} failed: ${feedFailure(feed.user, r)}`, false);
    return;
  }
  const n = r.data.updated;
  await loadFeed(Math.max(feed.pages, 1));
  showFeedResult(`${what}: ${n} item(s) changed`, true);
}

function markAllFeed() {
  const action = $('feed-all-action').value;
  if (!window.confirm(`Mark every item of ${feed.user}'s feed ${action}, archived ones too? Their open tabs update at once.`)) return;
  markFeed('all', action);
}

// ---- templates (role admin) ----

function showTemplateResult(text, ok) {
  const el = $('template-result');
  el.textContent = text;
  el.dataset.ok = ok ? 'true' : 'false';
}

function templatePath(id) {
  return `/api/websocket/templates/${encodeURIComponent(id)}`;
}

/** The send form's template choices: none, then each template by id. */
function renderTemplateChoices(list) {
  const sel = $('send-template');
  const keep = sel.value;
  const none = sel.options[0];
  const opts = list.map((t) => {
    const o = document.createElement('option');
    o.value = t.id;
    o.textContent = t.title ? `${t.id} — ${t.title}` : t.id;
    return o;
  });
  sel.replaceChildren(none, ...opts);
  sel.value = list.some((t) => t.id === keep) ? keep : '';
  syncSendForm();
}

function renderTemplates(list) {
  const items = list.map((t) => {
    const li = document.createElement('li');
    li.dataset.id = t.id;
    const id = document.createElement('span');
    id.className = 'tid';
    id.textContent = t.id;
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = t.title ? `${t.title} — ${t.message}` : t.message;
    text.title = text.textContent;
    const buttons = document.createElement('span');
    buttons.className = 'buttons';
    const button = (label, cls, title, fn) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = `small ${cls}`;
      b.textContent = label;
      b.title = title;
      b.addEventListener('click', fn);
      return b;
    };
    buttons.append(
      button('edit', 'edit', `load ${t.id} into the form below (GET)`, () => viewTemplate(t.id)),
      button('use', 'use', `send with ${t.id}`, () => useTemplate(t.id)),
      button('delete', 'danger delete', `delete ${t.id}`, () => deleteTemplate(t.id)),
    );
    li.append(id, buttons, text);
    return li;
  });
  $('template-list').replaceChildren(...items);
  $('templates-empty').hidden = list.length > 0;
}

async function loadTemplates() {
  if (!state.adminToken) {
    showText('templates-hint', 'Paste an admin token (role admin) above to manage templates.');
    renderTemplates([]);
    $('templates-empty').hidden = true;
    renderTemplateChoices([]);
    return;
  }
  const r = await api('GET', '/api/websocket/templates');
  if (!r.ok) {
    renderTemplates([]);
    $('templates-empty').hidden = true;
    renderTemplateChoices([]);
    if (r.status === 403) {
      showText('templates-hint', `Templates need a token with role admin; this one is refused (${failure(r)}).`);
    } else {
      showText('templates-hint', '');
      showTemplateResult(`templates: ${failure(r)}`, false);
    }
    return;
  }
  showText('templates-hint', '');
  const list = Array.isArray(r.data && r.data.templates) ? r.data.templates : [];
  renderTemplates(list);
  renderTemplateChoices(list);
}

async function viewTemplate(id) {
  const r = await api('GET', templatePath(id));
  if (!r.ok) {
    showTemplateResult(`template ${id}: ${failure(r)}`, false);
    return;
  }
  const t = r.data.template;
  $('template-id').value = t.id;
  $('template-title').value = t.title || '';
  $('template-message').value = t.message || '';
  showTemplateResult(`template ${t.id}, changed ${new Date(t.updated_at).toLocaleString()}`, true);
}

function useTemplate(id) {
  $('send-template').value = id;
  syncSendForm();
  $('send-params').focus();
}

async function saveTemplate(ev) {
  ev.preventDefault();
  const id = $('template-id').value.trim();
  const body = { message: $('template-message').value };
  const title = $('template-title').value;
  if (title) body.title = title;
  showTemplateResult('saving…', true);
  const r = await api('PUT', templatePath(id), body);
  if (!r.ok) {
    showTemplateResult(`save ${id} failed: ${failure(r)}`, false);
    return;
  }
  showTemplateResult(`template ${r.data.template.id} ${r.data.created ? 'created' : 'replaced'}`, true);
  await loadTemplates();
}

async function deleteTemplate(id) {
  if (!window.confirm(`Delete template ${id}? Notifications naming it will be refused.`)) return;
  const r = await api('DELETE', templatePath(id));
  showTemplateResult(r.ok ? `template ${id} deleted` : `delete ${id} failed: ${failure(r)}`, r.ok);
  await loadTemplates();
}

function newTemplate() {
  $('template-form').reset();
  showTemplateResult('', true);
  $('template-id').focus();
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
    showPublishResult(`publish failed: ${failure(r)}`, false);
    return;
  }
  const d = r.data || {};
  showPublishResult(d.message_ids
    ? `${fields.type} to ${d.users} user(s): ${d.reached} reached on ${d.connections} connection(s), ${d.stored_users} kept for later (${idList(d.message_ids)})`
    : `${fields.type} ${d.message_id} reached ${d.connections} connection(s)${d.stored ? ', kept for later' : ''}`, true);
  pollOnce();
}

async function disconnectUser(user) {
  const el = $('online-result');
  const r = await api('POST', `/api/websocket/user/${encodeURIComponent(user)}/disconnect`,
    { reason: 'disconnected from the notifyd console', reconnect: false });
  el.textContent = r.ok ? `${user}: ${r.data.closed} connection(s) closed` : `disconnect ${user} failed: ${failure(r)}`;
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
  $('send-everyone').addEventListener('change', syncSendForm);
  $('send-template').addEventListener('change', syncSendForm);
  $('lookup-form').addEventListener('submit', lookUp);
  $('lookup-feed').addEventListener('click', () => openFeedOf($('lookup-user').value.trim()));
  $('feed-form').addEventListener('submit', openFeed);
  $('feed-filter').addEventListener('change', () => { if (feed.user) openFeed(); });
  $('feed-older').addEventListener('click', olderFeed);
  $('feed-mark-all').addEventListener('click', markAllFeed);
  $('feed-reload').addEventListener('click', () => loadFeed(Math.max(feed.pages, 1)));
  $('templates-reload').addEventListener('click', loadTemplates);
  $('template-new').addEventListener('click', newTemplate);
  $('template-form').addEventListener('submit', saveTemplate);
  $('publish-form').addEventListener('submit', publish);
  $('live-form').addEventListener('submit', connectLive);
  $('live-disconnect').addEventListener('click', () => {
    disconnectLive();
    setLiveStatus('not connected', 'idle');
  });
  $('live-clear').addEventListener('click', () => $('live-log').replaceChildren());
  syncSendForm();
  restartPolling();
  loadTemplates();
  syncFeedHint();
  document.documentElement.dataset.ready = 'true';
}

init();
