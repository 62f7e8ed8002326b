// Type declarations for notifyd.js, the browser (and Node) client of notifyd's WebSocket /ws.

export declare const VERSION: string;

/** Message types notifyd keeps for offline users (and until acked in ack mode). */
export declare const KEPT_TYPES: readonly string[];

/** notifyd's WebSocket close codes. */
export declare const CloseCode: {
  readonly NORMAL: 1000;
  readonly GOING_AWAY: 1001;
  readonly ABNORMAL: 1006;
  readonly INVALID_UTF8: 1007;
  readonly POLICY: 1008;
  readonly TOO_BIG: 1009;
  readonly SLOW_READER: 4001;
  readonly HEARTBEAT_TIMEOUT: 4002;
  readonly TOKEN_EXPIRED: 4003;
  readonly DISCONNECTED: 4004;
};

/** `disconnected`: sent by the server just before it closes a connection. */
export interface DisconnectedData {
  /** the close code that follows: 1001, 4001, 4002, 4003 or 4004 */
  code: number;
  reason: string;
  /** false: do not reconnect (DisconnectUser's default); the client then stops */
  reconnect: boolean;
}

/** Every server message: the design's envelope. Control messages have no message_id. */
export interface Envelope<T = any> {
  type: string;
  user_id?: string;
  data: T;
  timestamp: number;
  message_id?: string;
  /** set by the sender when not normal: absent means 'normal' */
  priority?: 'high' | 'urgent';
  /** the sender's grouping key, to collapse related notifications */
  group?: string;
  /** true when the notification is also kept in the user's feed */
  feed?: true;
}

export interface ConnectedData {
  client_id: string;
  user_id: string;
  heartbeat_interval: number;
  heartbeat_timeout: number;
  /** false when part of the ?since= gap was already forgotten by the server */
  recovered: boolean;
  /** unix ms, as every time here but token_expires_at */
  server_time: number;
  /** the token's exp: unix seconds */
  token_expires_at?: number;
  /** the same in unix ms */
  token_expires_at_ms?: number;
  ack?: boolean;
  /** true when connected with ?batch=1 (option batch) */
  batch?: boolean;
}

export interface TaskProgressData {
  task_id: string;
  task_type: string;
  status: string;
  progress: number;
  total: number;
  completed: number;
  failed: number;
  message: string;
  start_time: number;
  end_time: number;
}

export interface BatchGoOpenUrlData {
  task_id: string;
  urls: string[];
  delay: number;
}

export interface SystemNotificationData {
  title: string;
  message: string;
  level: 'info' | 'warning' | 'error' | 'success';
  action?: string;
  action_url?: string;
  /** true for SendTestMessage / GET /api/websocket/test */
  test?: boolean;
}

export interface TokenInsufficientData {
  current_balance: number;
  required_tokens: number;
  task_type: string;
  message: string;
}

export interface PlanExpiringData {
  plan_name: string;
  days_left: number;
  expires_at: number;
  message: string;
  upgrade_url: string;
}

export interface PlanExpiredData {
  plan_name: string;
  expires_at: number;
  message: string;
  upgrade_url: string;
}

/** `error` handlers get server `error` messages (server: true) and the client's own errors. */
export interface ErrorDetail {
  /** server codes: bad_json, bad_message, unknown_type, bad_ack, binary_unsupported, rate_limited,
   *  refresh_failed, bad_refresh, token_expired; client codes: socket_error, socket_failed,
   *  handler_failed, get_token_failed, refresh_failed, bad_frame, send_failed, internal */
  code: string;
  message: string;
  server?: boolean;
  error?: unknown;
}

export type State = 'idle' | 'connecting' | 'open' | 'waiting' | 'closed';

export interface ConnectingEvent { attempt: number; url: string }
export interface OpenEvent {
  clientId: string | null;
  userId: string;
  /** this connection asked for ?since= */
  resumed: boolean;
  since: string | null;
  /** false: the server could not replay the whole gap (restarted, or history too short) */
  recovered: boolean;
  tokenExpiresAt: number | null;
  data: ConnectedData;
}
export interface CloseEvent {
  code: number;
  reason: string;
  wasClean: boolean;
  /** the client closed it (close(), reconnect(), connect or heartbeat timeout) */
  byClient?: boolean;
  willReconnect: boolean;
  /** the code is in giveUpOn, or the server said reconnect: false */
  giveUp?: boolean;
  /** what the server said before closing (the `disconnected` message), when it did */
  disconnected?: DisconnectedData;
}
export interface ReconnectingEvent {
  /** 1 for the first retry after a connection was lost; grows until a connection stays up stableAfterMs */
  attempt: number;
  /** the chosen delay, ms (jittered) */
  delay: number;
  /** min(backoffMaxMs, backoffBaseMs * backoffFactor^(attempt-1)) */
  cap: number;
  code: number;
  reason: string;
}
export interface StateChangeEvent { from: State; to: State; [k: string]: unknown }

export interface GetTokenContext {
  attempt: number;
  reason: 'connect' | 'reconnect' | 'refresh';
}

export interface NotifydClientOptions {
  /** ws(s):// or http(s):// URL of notifyd; "/ws" is added when the path is empty.
   *  Default: /ws on the page's own host (ws://localhost:8080/ws outside a browser). */
  url?: string;
  /** the user's JWT (sent as ?token=) */
  token?: string;
  /** called before every reconnect (and the first connect when token is unset), and before
   *  the token expires when refreshAheadMs > 0; resolve to a fresh JWT */
  getToken?: (ctx: GetTokenContext) => string | Promise<string>;
  /** a WebSocket constructor; default globalThis.WebSocket. In Node 20: `(await import('ws')).WebSocket` */
  WebSocket?: any;
  /** connect with ?ack=1 and ack messages after their handlers ran (default false) */
  ack?: boolean;
  /** which types to ack: default KEPT_TYPES (the others are never kept); 'all' acks everything */
  ackTypes?: readonly string[] | 'all';
  /** connect with ?batch=1: notifyd may send several ready messages in one
   *  {"type":"batch","data":{"messages":[...]}} frame; the client unpacks it, so handlers
   *  (and dedupe, resume and acks) still see one message at a time, in order (default false) */
  batch?: boolean;
  /** acks per second at most (burst 2x); 0 = no limit (default): notifyd does not count acks for messages it sent */
  ackRate?: number;
  /** reconnect when the connection is lost (default true) */
  reconnect?: boolean;
  /** first retry's delay cap, ms (default 500) */
  backoffBaseMs?: number;
  /** largest delay cap, ms (default 30000) */
  backoffMaxMs?: number;
  /** growth per attempt (default 2) */
  backoffFactor?: number;
  /** 'full' (default): delay uniform in [0, cap]; 'equal': [cap/2, cap]; 'none': cap */
  jitter?: 'full' | 'equal' | 'none';
  /** a connection up this long resets the attempt count (default 5000 ms) */
  stableAfterMs?: number;
  /** retries before giving up (default Infinity) */
  maxAttempts?: number;
  /** close codes after which the client stops instead of reconnecting, e.g. [4001, 4003, 1008] (default none) */
  giveUpOn?: readonly number[];
  /** resume from this message id on the first connect (e.g. one saved in sessionStorage) */
  since?: string;
  /** message ids remembered to drop duplicates (default 1000) */
  dedupeSize?: number;
  /** reconnect after this long without any server message; default 2 x heartbeat_interval + 5 s; 0: never */
  idleTimeoutMs?: number;
  /** give up on a connection attempt that has no `connected` after this long (default 10000; 0: never) */
  connectTimeoutMs?: number;
  /** with getToken: refresh this long before the token expires (default 60000; 0: never) */
  refreshAheadMs?: number;
  /** how long refresh() waits for `refreshed` (default 10000) */
  refreshTimeoutMs?: number;
  /** send {"type":"client_ready"} when the socket opens, as AutoAdsWebSocket did (default true) */
  sendClientReady?: boolean;
  /** in browsers: retry at once when the `online` event fires (default true) */
  reconnectOnOnline?: boolean;
  /** random source for the jitter, [0, 1) (default Math.random) */
  random?: () => number;
  /** fetch for the feed's calls (default globalThis.fetch) */
  fetch?: (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<{ ok: boolean; status: number; json(): Promise<any> }>;
}

type Unsubscribe = () => void;
type MaybePromise = void | Promise<unknown>;

export type FeedFilter = 'inbox' | 'unread' | 'archived' | 'all';
export type FeedAction = 'seen' | 'read' | 'unread' | 'archive' | 'unarchive';
export declare const FEED_FILTERS: readonly FeedFilter[];
export declare const FEED_ACTIONS: readonly FeedAction[];

/** One notification of the feed with the user's state of it. */
export interface FeedItem<T = any> {
  /** its message_id */
  id: string;
  type: string;
  data: T;
  timestamp: number;
  priority?: 'high' | 'urgent';
  group?: string;
  seen: boolean;
  read: boolean;
  archived: boolean;
}

/** What a bell shows; archived items are not counted. */
export interface FeedCounts {
  total: number;
  unseen: number;
  unread: number;
}

export interface FeedPage {
  /** newest first */
  items: FeedItem[];
  /** pass as `before` for the next page; '' on the last one */
  next_before: string;
}

/** `feed_update`: the user's feed changed (in any tab, on any device); the new counts. */
export interface FeedUpdateData {
  ids?: string[];
  all?: true;
  action: FeedAction;
  counts: FeedCounts;
}

/** The user's feed over REST (/api/websocket/me/feed...); errors carry the HTTP `status`. */
export declare class NotifydFeed {
  list(options?: { before?: string; limit?: number; filter?: FeedFilter }): Promise<FeedPage>;
  counts(): Promise<FeedCounts>;
  mark(options: { ids: string[]; action: FeedAction } | { all: true; action: FeedAction }): Promise<{ updated: number; counts: FeedCounts }>;
}

export declare class NotifydClient {
  constructor(options?: NotifydClientOptions | string);
  readonly options: Required<NotifydClientOptions>;
  readonly url: URL;
  /** the token in use (updated by getToken and refresh) */
  token: string | undefined;
  readonly state: State;
  /** the highest message_id seen; sent as ?since= on reconnect */
  readonly lastMessageId: string | null;
  readonly clientId: string | null;
  readonly connectedData: ConnectedData | null;
  readonly attempt: number;
  /** the user's notification feed (the bell and inbox) */
  readonly feed: NotifydFeed;

  /** Starts connecting; resolves with `connected` data once up; rejects if closed/given up first. */
  connect(): Promise<ConnectedData>;
  /** Closes for good (no reconnect). */
  close(code?: number, reason?: string): void;
  /** Same as close(). */
  disconnect(code?: number, reason?: string): void;
  /** Drops the current connection and connects again at once, resuming with ?since=. */
  reconnect(): Promise<ConnectedData>;
  /** Sends {type, data, timestamp} if open; returns whether it was sent. */
  send(type: string, data?: unknown): boolean;
  sendMessage(type: string, data?: unknown): boolean;
  /** Sends {"type":"refresh","data":{"token":...}}; resolves on `refreshed`. */
  refresh(newToken: string): Promise<{ expires_at: number | null }>;

  // Handlers of message types get (data, envelope); an async handler delays the ack until it resolves;
  // a handler that throws (or rejects) leaves the message un-acked, so notifyd redelivers it.
  on(type: 'connected', handler: (data: ConnectedData, msg: Envelope<ConnectedData>) => MaybePromise): Unsubscribe;
  on(type: 'batchgo_open_url', handler: (data: BatchGoOpenUrlData, msg: Envelope<BatchGoOpenUrlData>) => MaybePromise): Unsubscribe;
  on(type: 'system_notification', handler: (data: SystemNotificationData, msg: Envelope<SystemNotificationData>) => MaybePromise): Unsubscribe;
  on(type: 'token_insufficient', handler: (data: TokenInsufficientData, msg: Envelope<TokenInsufficientData>) => MaybePromise): Unsubscribe;
  on(type: 'plan_expiring', handler: (data: PlanExpiringData, msg: Envelope<PlanExpiringData>) => MaybePromise): Unsubscribe;
  on(type: 'plan_expired', handler: (data: PlanExpiredData, msg: Envelope<PlanExpiredData>) => MaybePromise): Unsubscribe;
  on(
    type: `${'batchgo' | 'siterank' | 'chengelink'}_${'start' | 'progress' | 'complete'}`,
    handler: (data: TaskProgressData, msg: Envelope<TaskProgressData>) => MaybePromise,
  ): Unsubscribe;
  on(type: 'refreshed', handler: (data: { expires_at: number | null }, msg: Envelope) => MaybePromise): Unsubscribe;
  on(type: 'disconnected', handler: (data: DisconnectedData, msg: Envelope<DisconnectedData>) => MaybePromise): Unsubscribe;
  on(type: 'feed_update', handler: (data: FeedUpdateData, msg: Envelope<FeedUpdateData>) => MaybePromise): Unsubscribe;
  /** every server message (after duplicates are dropped) */
  on(type: 'message', handler: (msg: Envelope) => MaybePromise): Unsubscribe;
  /** a message dropped because its message_id was seen before */
  on(type: 'duplicate', handler: (msg: Envelope) => void): Unsubscribe;
  on(type: 'error', handler: (detail: ErrorDetail, source?: Envelope | unknown) => void): Unsubscribe;
  on(type: 'connecting', handler: (e: ConnectingEvent) => void): Unsubscribe;
  on(type: 'open', handler: (e: OpenEvent) => void): Unsubscribe;
  on(type: 'close', handler: (e: CloseEvent) => void): Unsubscribe;
  on(type: 'reconnecting', handler: (e: ReconnectingEvent) => void): Unsubscribe;
  on(type: 'statechange', handler: (e: StateChangeEvent) => void): Unsubscribe;
  on(type: string, handler: (data: any, msg: Envelope) => MaybePromise): Unsubscribe;
  once(type: string, handler: (...args: any[]) => MaybePromise): Unsubscribe;
  /** without a handler: removes every handler of type */
  off(type: string, handler?: (...args: any[]) => unknown): void;
}

export declare function createClient(options?: NotifydClientOptions | string): NotifydClient;
/** ws(s)://host[:port]/ws from a ws(s) or http(s) URL */
export declare function normalizeUrl(url?: string): URL;
/** a JWT's payload without checking it (for display), or null */
export declare function decodeToken(token: string): Record<string, unknown> | null;
export declare const STATE_EVENTS: ReadonlySet<string>;
export default NotifydClient;
