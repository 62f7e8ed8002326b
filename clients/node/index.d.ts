// Type declarations for notifyd-client (Node, gRPC).
import type { ChannelCredentials, Metadata } from '@grpc/grpc-js';

export declare const PROTO_ROOT: string;
export declare const PROTO_FILE: string;
export declare const DEFAULT_ADDRESS: string;
export declare const Status: Readonly<Record<string, number>>;
export declare const Level: Readonly<{ UNSPECIFIED: 0; INFO: 1; WARNING: 2; ERROR: 3; SUCCESS: 4 }>;
export type LevelLike = 'info' | 'warning' | 'error' | 'success' | number;
export declare const Priority: Readonly<{ UNSPECIFIED: 0; NORMAL: 1; HIGH: 2; URGENT: 3 }>;
/** 'urgent' goes to the front of each connection's queue, is never collapsed, and is kept for an offline user */
export type PriorityLike = 'normal' | 'high' | 'urgent' | number;
export declare const Store: Readonly<{ UNSPECIFIED: 0; AUTO: 1; ALWAYS: 2; NEVER: 3 }>;
/** auto: kept as its type is (notifyd's kept types, or urgent); always; never (even urgent) */
export type StoreLike = 'auto' | 'always' | 'never' | number;

export declare class NotifydError extends Error {
  /** the gRPC status code (3 = INVALID_ARGUMENT, 16 = UNAUTHENTICATED, ...) */
  code: number;
  /** 'INVALID_ARGUMENT', 'UNAUTHENTICATED', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'UNAVAILABLE', ... */
  codeName: string;
  /** notifyd's message; for INVALID_ARGUMENT it names the field first: "urls[1] must be ..." */
  details: string;
  /** the RPC, e.g. 'NotifyBatchGoOpenUrl' */
  method: string;
  metadata?: Metadata;
}

/** What became of a notification. */
export interface Delivery {
  message_id: string;
  /** the user's connections it was handed to now */
  connections: number;
  /** kept on disk for the user's next connect */
  stored: boolean;
  /** kept in the user's notification feed (false when not asked for, or while Redis is unreachable) */
  feed: boolean;
}

/** Publish's target (exactly one) and options. */
export interface PublishOptions extends NotifyOptions {
  user_id?: string;
  /** 1-1000 users, each with its own message_id */
  user_ids?: readonly string[];
  broadcast?: boolean;
  store?: StoreLike;
  /** how long a kept copy waits, ms; 0: the type's own (at most NOTIFYD_OFFLINE_TTL) */
  ttl_ms?: number;
}

export type FeedFilter = 'inbox' | 'unread' | 'archived' | 'all';
export type FeedAction = 'seen' | 'read' | 'unread' | 'archive' | 'unarchive';
export declare const FEED_FILTERS: readonly FeedFilter[];
export declare const FEED_ACTIONS: readonly FeedAction[];
export interface FeedCounts { total: number; unseen: number; unread: number }
export interface FeedItem {
  id: string;
  type: string;
  /** the notification's data, parsed */
  data: any;
  timestamp: number;
  priority: 'normal' | 'high' | 'urgent';
  group: string;
  seen: boolean;
  read: boolean;
  archived: boolean;
}
export interface FeedPage { items: FeedItem[]; next_before: string }

/** What became of a published event: Delivery's fields, and a multicast's for user_ids. */
export interface Published extends Delivery {
  message_ids: string[];
  users: number;
  reached: number;
  stored_users: number;
  /** user_ids: users in whose notification feed it was kept */
  feed_users: number;
}

/** What became of a multicast (notifyUsers). */
export interface MulticastDelivery {
  /** one per distinct user, in userIds order */
  message_ids: string[];
  /** distinct users addressed */
  users: number;
  /** users with a live connection the message was handed to now */
  reached: number;
  /** users for whom it was kept for their next connect */
  stored: number;
  /** connections it was handed to, in all */
  connections: number;
  /** users in whose notification feed it was kept */
  feed_users: number;
}

/** A message template: title and message with {{name}} placeholders ({{user_id}}: the recipient). */
export interface Template {
  id: string;
  title: string;
  message: string;
  /** last change, Unix milliseconds (set by the server) */
  updated_at: number;
}

export interface TemplatePut {
  /** the template as kept */
  template: Template;
  /** no template had this id before */
  created: boolean;
}

export interface Stats {
  total_connections: number;
  connected_users: string[];
  online_users: number;
  uptime_seconds: number;
  messages_total: number;
  deliveries_total: number;
}

export interface Online {
  user_id: string;
  is_online: boolean;
  connections: number;
}

export interface CallOptions {
  /** this call's deadline (default: the client's timeoutMs) */
  timeoutMs?: number;
}

/** Every notify helper takes these. */
export interface NotifyOptions extends CallOptions {
  /** 'normal' (default), 'high' or 'urgent'; delivered in the envelope when not normal */
  priority?: PriorityLike;
  /** a grouping key (at most 128 bytes), delivered in the envelope as "group" */
  group?: string;
  /** true: also kept in the user's notification feed; false: not; unset: the type's default */
  feed?: boolean;
}

/** Values for a template's {{name}} placeholders; numbers and booleans are sent as strings. */
export type TemplateParams = Record<string, string | number | boolean>;

/** The text-carrying helpers take a template instead of the text. */
export interface TemplateOptions {
  /** render this template (see putTemplate) instead of giving title/message */
  template_id?: string;
  params?: TemplateParams;
}

export interface TaskFields extends NotifyOptions {
  task_type?: string;
  status?: string;
  progress?: number;
  total?: number;
  completed?: number;
  failed?: number;
  message?: string;
  start_time?: number;
  end_time?: number;
}

export interface NotificationFields extends NotifyOptions, TemplateOptions {
  title?: string;
  level?: LevelLike;
  action?: string;
  action_url?: string;
}

/** A system notification given as one object: the rendered template (or message) and the other fields. */
export interface TemplatedNotification extends NotificationFields {
  template_id: string;
  params?: TemplateParams;
}

export interface NotifydClientOptions {
  /** host:port of notifyd's gRPC listener (default localhost:50051) */
  address?: string;
  /** a JWT with role service or admin, or a function returning one (called for every call) */
  token?: string | (() => string | Promise<string>);
  /** TLS with the system roots */
  tls?: boolean;
  /** PEM roots for TLS */
  rootCerts?: Buffer;
  credentials?: ChannelCredentials;
  /** each call's deadline, default 10000 */
  timeoutMs?: number;
  channelOptions?: Record<string, unknown>;
  /** a directory holding notification/v1/notification.proto (default: the bundled copy) */
  protoRoot?: string;
}

export declare function loadDefinition(protoRoot?: string): unknown;

export declare class NotifydClient {
  constructor(options?: NotifydClientOptions);
  readonly address: string;
  timeoutMs: number;
  token: NotifydClientOptions['token'];
  close(): void;
  waitReady(timeoutMs?: number): Promise<void>;
  /** any RPC by name, with a plain request object (snake_case fields) */
  call<T = any>(method: string, request?: object, options?: CallOptions): Promise<T>;

  notifyBatchGoStart(userId: string, taskId: string, fields?: TaskFields): Promise<Delivery>;
  notifyBatchGoProgress(userId: string, taskId: string, fields?: TaskFields): Promise<Delivery>;
  notifyBatchGoComplete(userId: string, taskId: string, fields?: TaskFields): Promise<Delivery>;
  notifySiteRankStart(userId: string, taskId: string, fields?: TaskFields): Promise<Delivery>;
  notifySiteRankProgress(userId: string, taskId: string, fields?: TaskFields): Promise<Delivery>;
  notifySiteRankComplete(userId: string, taskId: string, fields?: TaskFields): Promise<Delivery>;
  notifyChengelinkStart(userId: string, taskId: string, fields?: TaskFields): Promise<Delivery>;
  notifyChengelinkProgress(userId: string, taskId: string, fields?: TaskFields): Promise<Delivery>;
  notifyChengelinkComplete(userId: string, taskId: string, fields?: TaskFields): Promise<Delivery>;
  notifyBatchGoOpenUrl(userId: string, taskId: string, urls: readonly string[], options?: NotifyOptions & { delay?: number }): Promise<Delivery>;
  sendSystemNotification(userId: string, message: string, options?: NotificationFields): Promise<Delivery>;
  sendSystemNotification(userId: string, templated: TemplatedNotification): Promise<Delivery>;
  notifyTokenInsufficient(userId: string, currentBalance: number, requiredTokens: number, options?: NotifyOptions & TemplateOptions & { task_type?: string; message?: string }): Promise<Delivery>;
  notifyPlanExpiring(userId: string, planName: string, daysLeft: number, expiresAt: number, options?: NotifyOptions & TemplateOptions & { message?: string; upgrade_url?: string }): Promise<Delivery>;
  notifyPlanExpired(userId: string, planName: string, expiresAt: number, options?: NotifyOptions & TemplateOptions & { message?: string; upgrade_url?: string }): Promise<Delivery>;
  broadcast(message: string, options?: NotificationFields): Promise<Delivery>;
  broadcast(templated: TemplatedNotification): Promise<Delivery>;
  /** one system_notification to each of userIds (1-1000), each with its own message_id */
  notifyUsers(userIds: readonly string[], message: string, options?: NotificationFields): Promise<MulticastDelivery>;
  notifyUsers(userIds: readonly string[], templated: TemplatedNotification): Promise<MulticastDelivery>;
  sendTestMessage(userId: string, options?: NotifyOptions): Promise<Delivery>;
  /** your own event: any type, data an object or JSON text (delivered as written), one target */
  publish(type: string, data: Record<string, unknown> | string | Uint8Array | null | undefined, options: PublishOptions): Promise<Published>;
  /** role admin only: close every connection of the user (close 4004; reconnect false tells it to stay away) */
  disconnectUser(userId: string, options?: CallOptions & { reason?: string; reconnect?: boolean }): Promise<{ user_id: string; closed: number }>;
  /** role admin only */
  putTemplate(id: string, message: string, options?: CallOptions & { title?: string }): Promise<TemplatePut>;
  /** role admin only; rejects with NOT_FOUND when absent */
  getTemplate(id: string, options?: CallOptions): Promise<Template>;
  /** role admin only; every template, by id */
  listTemplates(options?: CallOptions): Promise<Template[]>;
  /** role admin only; resolves with the id removed; rejects with NOT_FOUND when absent */
  deleteTemplate(id: string, options?: CallOptions): Promise<string>;
  getStats(options?: CallOptions): Promise<Stats>;
  isUserOnline(userId: string, options?: CallOptions): Promise<Online>;
  /** One page of a user's feed, newest first. */
  listFeed(userId: string, options?: CallOptions & { before?: string; limit?: number; filter?: FeedFilter }): Promise<FeedPage>;
  /** A user's feed counts (archived items not counted). */
  getFeedCounts(userId: string, options?: CallOptions): Promise<FeedCounts>;
  /** Marks ids (or all) of a user's feed; every connection of the user gets `feed_update`. */
  markFeed(userId: string, options: CallOptions & { ids?: string[]; all?: boolean; action: FeedAction }): Promise<{ updated: number; counts: FeedCounts }>;
}

export default NotifydClient;
