// notifyd-client: a Node client for notifyd's gRPC API (notification.v1.NotificationService).
//
//   import { NotifydClient } from 'notifyd-client';
//   const client = new NotifydClient({ address: 'localhost:50051', token: serviceJwt });
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

const delivery = (r) => ({ message_id: r.message_id, connections: r.connections, stored: r.stored });

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
    return this._deliver(method, { user_id: userId, task: taskOf(taskId, fields, defaults) }, fields);
  }

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
    return this._deliver('NotifyBatchGoOpenUrl', { user_id: userId, task_id: taskId, urls: [...urls], delay }, opts);
  }

  /** system_notification to one user; level 'info' | 'warning' | 'error' | 'success'. */
  async sendSystemNotification(userId, message, { title = '', level: l, action = '', action_url = '', ...opts } = {}) {
    return this._deliver('SendSystemNotification', { user_id: userId, title, message, level: level(l), action, action_url }, opts);
  }

  async notifyTokenInsufficient(userId, currentBalance, requiredTokens, { task_type = '', message = '', ...opts } = {}) {
    return this._deliver('NotifyTokenInsufficient', { user_id: userId, current_balance: currentBalance, required_tokens: requiredTokens, task_type, message }, opts);
  }

  /** plan_expiring; expiresAt in Unix seconds. */
  async notifyPlanExpiring(userId, planName, daysLeft, expiresAt, { message = '', upgrade_url = '', ...opts } = {}) {
    return this._deliver('NotifyPlanExpiring', { user_id: userId, plan_name: planName, days_left: daysLeft, expires_at: expiresAt, message, upgrade_url }, opts);
  }

  /** plan_expired; expiresAt in Unix seconds. */
  async notifyPlanExpired(userId, planName, expiresAt, { message = '', upgrade_url = '', ...opts } = {}) {
    return this._deliver('NotifyPlanExpired', { user_id: userId, plan_name: planName, expires_at: expiresAt, message, upgrade_url }, opts);
  }

  /** system_notification to every connection (not kept for offline users). */
  async broadcast(message, { title = '', level: l, action = '', action_url = '', ...opts } = {}) {
    return this._deliver('Broadcast', { title, message, level: level(l), action, action_url }, opts);
  }

  /** A test system_notification (data.test: true). */
  async sendTestMessage(userId, opts = {}) {
    return this._deliver('SendTestMessage', { user_id: userId }, opts);
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

  async isUserOnline(userId, opts = {}) {
    const r = await this.call('IsUserOnline', { user_id: userId }, opts);
    return { user_id: r.user_id, is_online: r.is_online, connections: r.connections };
  }
}

export default NotifydClient;
