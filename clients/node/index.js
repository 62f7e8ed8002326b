// notifyd-client: a Node client for notifyd's gRPC API (notification.v1.NotificationService).
//
//   import { NotifydClient } from 'notifyd-client';
//   const client = new NotifydClient({ address: 'localhost:50051', token: serviceJwt });
//   // your own event: any type, any JSON object as data
//   const p = await client.publish('order.shipped', { order_id: 'A-1001' }, { user_id: '42' });
//   const r = await client.notifyBatchGoOpenUrl('42', 'batch_001', ['https://example.com'], { delay: 1000 });
//   console.log(r.message_id, r.connections, r.stored);
//   client.close();
//
// Uses @grpc/grpc-js and @grpc/proto-loader (keepCase: fields keep the proto's snake_case
// names, as in the delivered JSON). Every call sends `authorization: Bearer <token>`;
// failures reject with NotifydError (gRPC code, its name, notifyd's message).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const PROTO_ROOT = path.join(HERE, 'proto');
export const PROTO_FILE = 'notification/v1/notification.proto';
export const DEFAULT_ADDRESS = 'localhost:50051';

/** gRPC status names by code. */
export const Status = Object.freeze(Object.fromEntries(Object.entries(grpc.status).filter(([, v]) => typeof v === 'number')));
const STATUS_NAME = Object.fromEntries(Object.entries(Status).map(([k, v]) => [v, k]));

/** A failed call: `code` (number), `codeName` ('INVALID_ARGUMENT'), `details` (notifyd's message), `method`. */
export class NotifydError extends Error {
  constructor(code, details, method = '', metadata = undefined) {
    const codeName = STATUS_NAME[code] || String(code);
    super(`${codeName}: ${details}${method ? ` (${method})` : ''}`);
    this.name = 'NotifydError';
    this.code = code;
    this.codeName = codeName;
    this.details = details;
    this.method = method;
    this.metadata = metadata;
  }
}

/** Level names accepted by sendSystemNotification and broadcast. */
export const Level = Object.freeze({ UNSPECIFIED: 0, INFO: 1, WARNING: 2, ERROR: 3, SUCCESS: 4 });

function level(l) {
  if (l === undefined || l === null) return Level.INFO;
  if (typeof l === 'number') return l;
  const v = Level[String(l).trim().toUpperCase()];
  if (v === undefined) throw new TypeError(`level must be info, warning, error or success, not ${JSON.stringify(l)}`);
  return v;
}

/** Priority names accepted by every notify helper's `priority` option. */
export const Priority = Object.freeze({ UNSPECIFIED: 0, NORMAL: 1, HIGH: 2, URGENT: 3 });

function priority(p) {
  if (p === undefined || p === null) return Priority.UNSPECIFIED;
  if (typeof p === 'number') return p;
  const v = Priority[String(p).trim().toUpperCase()];
  if (v === undefined) throw new TypeError(`priority must be normal, high or urgent, not ${JSON.stringify(p)}`);
  return v;
}

/** The feed's filters and actions, in the proto's order (FEED_FILTER_INBOX = 1, ...). */
export const FEED_FILTERS = Object.freeze(['inbox', 'unread', 'archived', 'all']);
export const FEED_ACTIONS = Object.freeze(['seen', 'read', 'unread', 'archive', 'unarchive']);
const PRIORITY_NAMES = { 2: 'high', 3: 'urgent' };

/** Store names accepted by publish's `store` option. */
export const Store = Object.freeze({ UNSPECIFIED: 0, AUTO: 1, ALWAYS: 2, NEVER: 3 });

function store(s) {
  if (s === undefined || s === null) return Store.UNSPECIFIED;
  if (typeof s === 'number') return s;
  const v = Store[String(s).trim().toUpperCase()];
  if (v === undefined) throw new TypeError(`store must be auto, always or never, not ${JSON.stringify(s)}`);
  return v;
}

/** Publish's data: an object is serialized; a string or Buffer is JSON text, sent as written. */
function jsonBytes(data) {
  if (data === undefined || data === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(data) || data instanceof Uint8Array) return Buffer.from(data);
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return Buffer.from(JSON.stringify(data), 'utf8');
}

/** The fields every notify request takes: priority and group. */
function common({ priority: p, group = '', feed } = {}) {
  const out = { priority: priority(p), group };
  if (feed !== undefined && feed !== null) out.feed = Boolean(feed); // unset: the type's default
  return out;
}

/** template_id + params (values sent as strings: the proto's map<string, string>). */
function templated({ template_id = '', params } = {}) {
  if (params && Object.keys(params).length && !template_id) throw new TypeError('params needs a template_id');
  const out = {};
  for (const [k, v] of Object.entries(params || {})) out[k] = String(v);
  return { template_id, params: out };
}

/** (message, options) or (options) with options.message: the templated helpers take either. */
function textArgs(message, options) {
  if (message !== null && typeof message === 'object') return [message.message ?? '', message];
  return [message ?? '', options || {}];
}

let cachedDefinition = null;

/** The loaded package definition (cached for the bundled proto). */
export function loadDefinition(protoRoot = PROTO_ROOT) {
  if (protoRoot === PROTO_ROOT && cachedDefinition) return cachedDefinition;
  const def = protoLoader.loadSync(PROTO_FILE, {
    includeDirs: [protoRoot],
    keepCase: true, // snake_case, as notifyd delivers it
    longs: Number, // int64 seconds and counters fit in a double
    enums: Number,
    defaults: true, // connections: 0 and stored: false are present in answers
    oneofs: true,
  });
  if (protoRoot === PROTO_ROOT) cachedDefinition = def;
  return def;
}

const TASK_FIELDS = ['task_type', 'status', 'progress', 'total', 'completed', 'failed', 'message', 'start_time', 'end_time'];

function taskOf(taskId, fields, defaults) {
  const task = { task_id: taskId, ...defaults };
  for (const k of TASK_FIELDS) if (fields[k] !== undefined) task[k] = fields[k];
  return task;
}

const delivery = (r) => ({ message_id: r.message_id, connections: r.connections, stored: r.stored, feed: r.feed });
const template = (t) => ({ id: t.id, title: t.title, message: t.message, updated_at: t.updated_at });

export class NotifydClient {
  /**
   * @param {object} [o]
   * @param {string} [o.address='localhost:50051'] notifyd's gRPC host:port
   * @param {string|(() => string|Promise<string>)} [o.token] a JWT with role service or admin, or a function returning one (called per call)
   * @param {boolean} [o.tls] TLS with the system roots (or o.rootCerts, a PEM Buffer)
   * @param {grpc.ChannelCredentials} [o.credentials] instead of tls/rootCerts
   * @param {number} [o.timeoutMs=10000] each call's deadline
   * @param {object} [o.channelOptions] grpc-js channel options
   * @param {string} [o.protoRoot] a directory holding notification/v1/notification.proto (default: the bundled copy)
   */
  constructor(o = {}) {
    this.address = o.address || DEFAULT_ADDRESS;
    this.timeoutMs = o.timeoutMs ?? 10000;
    this.token = o.token;
    const creds = o.credentials || (o.tls || o.rootCerts ? grpc.credentials.createSsl(o.rootCerts || null) : grpc.credentials.createInsecure());
    const pkg = grpc.loadPackageDefinition(loadDefinition(o.protoRoot));
    const Service = pkg.notification.v1.NotificationService;
    this.stub = new Service(this.address, creds, o.channelOptions || {});
  }

  close() {
    this.stub.close();
  }

  /** Resolves once the channel is connected; rejects with UNAVAILABLE after timeoutMs. */
  waitReady(timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      this.stub.waitForReady(Date.now() + timeoutMs, (err) => {
        if (err) reject(new NotifydError(Status.UNAVAILABLE, `notifyd at ${this.address} not reachable in ${timeoutMs} ms: ${err.message}`));
        else resolve();
      });
    });
  }

  async _metadata() {
    const md = new grpc.Metadata();
    const tok = typeof this.token === 'function' ? await this.token() : this.token;
    if (tok) md.add('authorization', `Bearer ${tok}`);
    return md;
  }

  /** Calls any RPC by name with a plain request object (snake_case fields); resolves with the plain response. */
  async call(method, request = {}, { timeoutMs } = {}) {
    if (typeof this.stub[method] !== 'function') throw new TypeError(`no RPC ${method}`);
    const md = await this._metadata();
    const deadline = Date.now() + (timeoutMs ?? this.timeoutMs);
    return new Promise((resolve, reject) => {
      this.stub[method](request, md, { deadline }, (err, res) => {
        if (err) reject(new NotifydError(err.code, err.details || err.message, method, err.metadata));
        else resolve(res);
      });
    });
  }

  async _deliver(method, request, opts) {
    return delivery(await this.call(method, request, opts));
  }

  _task(method, userId, taskId, fields = {}, defaults = {}) {
    return this._deliver(method, { user_id: userId, task: taskOf(taskId, fields, defaults), ...common(fields) }, fields);
  }

  // ---- your own events ----

  /**
   * Sends an event of your own `type` (^[a-z][a-z0-9_.:-]{0,63}$, not one of notifyd's own) with
   * `data` (an object, serialized; or JSON text as a string/Buffer, delivered exactly as written;
   * at most 64 KiB) to exactly one of `user_id`, `user_ids` (1-1000) or `broadcast: true`.
   * Options: store ('auto' | 'always' | 'never'), ttl_ms (0: the type's own), priority, group.
   * Resolves with {message_id, connections, stored, feed, feed_users} (and message_ids, users,
   * reached, stored_users for user_ids).
   */
  async publish(type, data, o = {}) {
    const { user_id = '', user_ids = [], broadcast = false, store: st, ttl_ms = 0 } = o;
    const r = await this.call('Publish', {
      type, data: jsonBytes(data), user_id, user_ids: [...user_ids], broadcast, store: store(st), ttl_ms, ...common(o),
    }, o);
    return {
      message_id: r.message_id, connections: r.connections, stored: r.stored, message_ids: [...r.message_ids],
      users: r.users, reached: r.reached, stored_users: r.stored_users, feed: r.feed, feed_users: r.feed_users,
    };
  }

  /**
   * Closes every connection of userId on every instance (role admin): each gets a `disconnected`
   * message {code: 4004, reason, reconnect}, then close 4004. reconnect false (default) tells the
   * client not to come back. Resolves with {user_id, closed}.
   */
  async disconnectUser(userId, { reason = '', reconnect = false, ...opts } = {}) {
    const r = await this.call('DisconnectUser', { user_id: userId, reason, reconnect }, opts);
    return { user_id: r.user_id, closed: r.closed };
  }

  // Every notify helper's options also take `priority` ('normal' | 'high' | 'urgent' or a
  // Priority), `group` (a grouping key delivered in the envelope as "group") and `feed` (true:
  // also kept in the user's notification feed, false: not; unset: the type's default, SPEC §7d).

  // ---- task progress: fields are task_type, status, progress, total, completed, failed, message, start_time, end_time ----

  async notifyBatchGoStart(userId, taskId, fields) { return this._task('NotifyBatchGoStart', userId, taskId, fields, { status: 'running' }); }
  async notifyBatchGoProgress(userId, taskId, fields) { return this._task('NotifyBatchGoProgress', userId, taskId, fields, { status: 'running' }); }
  async notifyBatchGoComplete(userId, taskId, fields) { return this._task('NotifyBatchGoComplete', userId, taskId, fields, { status: 'completed', progress: 100 }); }
  async notifySiteRankStart(userId, taskId, fields) { return this._task('NotifySiteRankStart', userId, taskId, fields, { status: 'running' }); }
  async notifySiteRankProgress(userId, taskId, fields) { return this._task('NotifySiteRankProgress', userId, taskId, fields, { status: 'running' }); }
  async notifySiteRankComplete(userId, taskId, fields) { return this._task('NotifySiteRankComplete', userId, taskId, fields, { status: 'completed', progress: 100 }); }
  async notifyChengelinkStart(userId, taskId, fields) { return this._task('NotifyChengelinkStart', userId, taskId, fields, { status: 'running' }); }
  async notifyChengelinkProgress(userId, taskId, fields) { return this._task('NotifyChengelinkProgress', userId, taskId, fields, { status: 'running' }); }
  async notifyChengelinkComplete(userId, taskId, fields) { return this._task('NotifyChengelinkComplete', userId, taskId, fields, { status: 'completed', progress: 100 }); }

  // ---- the other notifications ----

  /** batchgo_open_url: the browser opens each URL in a new tab, `delay` ms apart. */
  async notifyBatchGoOpenUrl(userId, taskId, urls, { delay = 1000, ...opts } = {}) {
    return this._deliver('NotifyBatchGoOpenUrl', { user_id: userId, task_id: taskId, urls: [...urls], delay, ...common(opts) }, opts);
  }

  // The text-carrying helpers (sendSystemNotification, notifyTokenInsufficient, notifyPlanExpiring,
  // notifyPlanExpired, broadcast, notifyUsers) take `template_id` + `params` instead of the text:
  //   client.sendSystemNotification('u1', { template_id: 'welcome', params: { name: 'Ann' } })

  /** system_notification to one user; level 'info' | 'warning' | 'error' | 'success'. (userId, message, options) or (userId, {template_id, params, ...}). */
  async sendSystemNotification(userId, message, options) {
    const [text, o] = textArgs(message, options);
    const { title = '', level: l, action = '', action_url = '' } = o;
    return this._deliver('SendSystemNotification', { user_id: userId, title, message: text, level: level(l), action, action_url, ...common(o), ...templated(o) }, o);
  }

  async notifyTokenInsufficient(userId, currentBalance, requiredTokens, o = {}) {
    const { task_type = '', message = '' } = o;
    return this._deliver('NotifyTokenInsufficient', { user_id: userId, current_balance: currentBalance, required_tokens: requiredTokens, task_type, message, ...common(o), ...templated(o) }, o);
  }

  /** plan_expiring; expiresAt in Unix seconds. */
  async notifyPlanExpiring(userId, planName, daysLeft, expiresAt, o = {}) {
    const { message = '', upgrade_url = '' } = o;
    return this._deliver('NotifyPlanExpiring', { user_id: userId, plan_name: planName, days_left: daysLeft, expires_at: expiresAt, message, upgrade_url, ...common(o), ...templated(o) }, o);
  }

  /** plan_expired; expiresAt in Unix seconds. */
  async notifyPlanExpired(userId, planName, expiresAt, o = {}) {
    const { message = '', upgrade_url = '' } = o;
    return this._deliver('NotifyPlanExpired', { user_id: userId, plan_name: planName, expires_at: expiresAt, message, upgrade_url, ...common(o), ...templated(o) }, o);
  }

  /** system_notification to every connection (not kept for offline users). (message, options) or ({template_id, params, ...}). */
  async broadcast(message, options) {
    const [text, o] = textArgs(message, options);
    const { title = '', level: l, action = '', action_url = '' } = o;
    return this._deliver('Broadcast', { title, message: text, level: level(l), action, action_url, ...common(o), ...templated(o) }, o);
  }

  /**
   * One system_notification to each of userIds (1-1000; a repeat counts once), each with its own
   * message_id. (userIds, message, options) or (userIds, {template_id, params, ...}); a template's
   * {{user_id}} is filled per recipient.
   */
  async notifyUsers(userIds, message, options) {
    const [text, o] = textArgs(message, options);
    const { title = '', level: l, action = '', action_url = '' } = o;
    const r = await this.call('NotifyUsers', { user_ids: [...userIds], title, message: text, level: level(l), action, action_url, ...common(o), ...templated(o) }, o);
    return {
      message_ids: [...r.message_ids], users: r.users, reached: r.reached, stored: r.stored, connections: r.connections,
      feed_users: r.feed_users,
    };
  }

  /** A test system_notification (data.test: true). */
  async sendTestMessage(userId, opts = {}) {
    return this._deliver('SendTestMessage', { user_id: userId, ...common(opts) }, opts);
  }

  // ---- templates (role admin only: a service token gets PERMISSION_DENIED) ----

  /** Creates or replaces a template ({{name}} placeholders; {{user_id}} is each recipient); resolves with {template, created}. */
  async putTemplate(id, message, { title = '', ...opts } = {}) {
    const r = await this.call('PutTemplate', { template: { id, title, message } }, opts);
    return { template: template(r.template), created: r.created };
  }

  /** One template; rejects with NOT_FOUND when there is none. */
  async getTemplate(id, opts = {}) {
    return template((await this.call('GetTemplate', { id }, opts)).template);
  }

  /** Every template, by id. */
  async listTemplates(opts = {}) {
    return (await this.call('ListTemplates', {}, opts)).templates.map(template);
  }

  /** Removes a template, resolving with its id; rejects with NOT_FOUND when there is none. */
  async deleteTemplate(id, opts = {}) {
    return (await this.call('DeleteTemplate', { id }, opts)).id;
  }

  // ---- questions ----

  async getStats(opts = {}) {
    const r = await this.call('GetStats', {}, opts);
    return {
      total_connections: r.total_connections,
      connected_users: [...r.connected_users],
      online_users: r.online_users,
      uptime_seconds: r.uptime_seconds,
      messages_total: r.messages_total,
      deliveries_total: r.deliveries_total,
    };
  }

  // ---- the notification feed (the bell and inbox of a web app) ----

  /**
   * One page of userId's feed, newest first: `limit` items (1-100; 0: 20) older than `before` (a
   * previous page's next_before); `filter`: 'inbox' (default), 'unread', 'archived' or 'all'.
   * Resolves with {items: [{id, type, data (parsed), timestamp, priority, group, seen, read,
   * archived}], next_before} ('' on the last page).
   */
  async listFeed(userId, { before = '', limit = 0, filter = 'inbox', ...opts } = {}) {
    const f = FEED_FILTERS.indexOf(filter);
    if (f < 0) throw new TypeError(`filter must be inbox, unread, archived or all, not ${JSON.stringify(filter)}`);
    const r = await this.call('ListFeed', { user_id: userId, before, limit, filter: f + 1 }, opts);
    return {
      items: r.items.map((i) => ({
        id: i.id, type: i.type, data: i.data && i.data.length ? JSON.parse(Buffer.from(i.data).toString('utf8')) : {},
        timestamp: i.timestamp, priority: PRIORITY_NAMES[i.priority] || 'normal', group: i.group,
        seen: i.seen, read: i.read, archived: i.archived,
      })),
      next_before: r.next_before,
    };
  }

  /** userId's feed counts: {total, unseen, unread} (archived items not counted). */
  async getFeedCounts(userId, opts = {}) {
    const r = await this.call('GetFeedCounts', { user_id: userId }, opts);
    return { total: r.total, unseen: r.unseen, unread: r.unread };
  }

  /**
   * Marks `ids` (1-500 item ids) or every item (`all: true`) of userId's feed with `action`:
   * 'seen', 'read' (implies seen), 'unread', 'archive' or 'unarchive'. Every connection of the user
   * gets a `feed_update` message. Resolves with {updated, counts: {total, unseen, unread}}.
   */
  async markFeed(userId, { ids = [], all = false, action, ...opts } = {}) {
    const a = FEED_ACTIONS.indexOf(action);
    if (a < 0) throw new TypeError(`action must be seen, read, unread, archive or unarchive, not ${JSON.stringify(action)}`);
    const r = await this.call('MarkFeed', { user_id: userId, ids: [...ids], all, action: a + 1 }, opts);
    return { updated: r.updated, counts: { total: r.counts.total, unseen: r.counts.unseen, unread: r.counts.unread } };
  }

  async isUserOnline(userId, opts = {}) {
    const r = await this.call('IsUserOnline', { user_id: userId }, opts);
    return { user_id: r.user_id, is_online: r.is_online, connections: r.connections };
  }
}

export default NotifydClient;
