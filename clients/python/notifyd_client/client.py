"""NotifydClient: one typed method per notifyd RPC, token metadata added to every call."""
from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import grpc

from ._proto import notification_pb2 as pb
from ._proto import notification_pb2_grpc as pbg
from .errors import from_rpc_error

DEFAULT_TARGET = "localhost:50051"


class Level(enum.IntEnum):
    """Severity of a system notification; delivered as "info", "warning", "error", "success"."""

    UNSPECIFIED = pb.LEVEL_UNSPECIFIED
    INFO = pb.LEVEL_INFO
    WARNING = pb.LEVEL_WARNING
    ERROR = pb.LEVEL_ERROR
    SUCCESS = pb.LEVEL_SUCCESS


LevelLike = Union[Level, int, str]


def _level(level: LevelLike) -> int:
    if isinstance(level, str):
        try:
            return int(Level[level.strip().upper()])
        except KeyError:
            raise ValueError("level must be info, warning, error or success, not %r" % level) from None
    return int(level)


class Priority(enum.IntEnum):
    """How a notification is treated on its way; delivered in the envelope as ``"priority": "high"``
    or ``"urgent"`` (nothing when normal). Urgent goes to the front of each connection's queue, is
    never collapsed, and is kept for an offline user whatever its type."""

    UNSPECIFIED = pb.PRIORITY_UNSPECIFIED
    NORMAL = pb.PRIORITY_NORMAL
    HIGH = pb.PRIORITY_HIGH
    URGENT = pb.PRIORITY_URGENT


PriorityLike = Union[Priority, int, str, None]


def _priority(priority: PriorityLike) -> int:
    if priority is None:
        return int(Priority.UNSPECIFIED)
    if isinstance(priority, str):
        try:
            return int(Priority[priority.strip().upper()])
        except KeyError:
            raise ValueError("priority must be normal, high or urgent, not %r" % priority) from None
    return int(priority)


class Store(enum.IntEnum):
    """Whether a published event is kept for an offline recipient: AUTO (its type's rule: notifyd's
    kept types, or urgent; the caller's own types are live only), ALWAYS, NEVER (even urgent)."""

    UNSPECIFIED = pb.STORE_UNSPECIFIED
    AUTO = pb.STORE_AUTO
    ALWAYS = pb.STORE_ALWAYS
    NEVER = pb.STORE_NEVER


StoreLike = Union[Store, int, str, None]


def _store(store: StoreLike) -> int:
    if store is None:
        return int(Store.UNSPECIFIED)
    if isinstance(store, str):
        try:
            return int(Store[store.strip().upper()])
        except KeyError:
            raise ValueError("store must be auto, always or never, not %r" % store) from None
    return int(store)


def _json_bytes(data: Union[Mapping[str, Any], bytes, str, None]) -> bytes:
    """Publish's data: a mapping is serialized (compact, UTF-8); bytes and str go as written."""
    if data is None:
        return b""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _common(priority: PriorityLike, group: str, feed: Optional[bool] = None) -> Dict[str, Any]:
    """The fields every notify request takes: priority, group and feed (None: the type's default)."""
    out = {"priority": _priority(priority), "group": group}
    if feed is not None:
        out["feed"] = bool(feed)
    return out


def _templated(template_id: str, params: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """template_id + params (values sent as strings, as the proto's map<string, string> wants)."""
    if params and not template_id:
        raise ValueError("params needs a template_id")
    return {"template_id": template_id, "params": {str(k): _param(v) for k, v in (params or {}).items()}}


def _param(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return v if isinstance(v, str) else str(v)


@dataclass(frozen=True)
class Delivery:
    """What became of a notification: its id, the connections it was handed to now, whether
    it was kept on disk for the user's next connect, and whether it was kept in the user's
    notification ``feed`` (False when not asked for, or while Redis is unreachable)."""

    message_id: str
    connections: int
    stored: bool
    feed: bool = False


@dataclass(frozen=True)
class MulticastDelivery:
    """What became of a multicast (:meth:`NotifydClient.notify_users`): one message id per distinct
    user (in ``user_ids`` order), the distinct ``users`` addressed, how many were ``reached`` on a
    live connection now, for how many the message was ``stored``, ``connections`` in all, and in
    how many users' notification feeds it was kept (``feed_users``)."""

    message_ids: List[str]
    users: int
    reached: int
    stored: int
    connections: int
    feed_users: int = 0


@dataclass(frozen=True)
class Published:
    """What became of a published event (:meth:`NotifydClient.publish`). To ``user_id`` or
    ``broadcast``: ``message_id``, ``connections`` reached now, ``stored``. To ``user_ids``: also
    ``message_ids`` (one per distinct user, in order), ``users``, ``reached`` and ``stored_users``
    (``message_id`` is then empty and ``stored`` says whether any copy was kept). ``feed``: kept
    in the notification feed (the user's, a recipient's, or shared by all); ``feed_users``: in how
    many recipients' feeds."""

    message_id: str
    connections: int
    stored: bool
    message_ids: List[str] = field(default_factory=list)
    users: int = 0
    reached: int = 0
    stored_users: int = 0
    feed: bool = False
    feed_users: int = 0


@dataclass(frozen=True)
class Disconnected:
    """The answer to :meth:`NotifydClient.disconnect_user`: the user's connections that were closed."""

    user_id: str
    closed: int


@dataclass(frozen=True)
class Template:
    """A message template: ``title`` and ``message`` with ``{{name}}`` placeholders; ``updated_at``
    is the last change in Unix milliseconds (set by the server)."""

    id: str
    message: str
    title: str = ""
    updated_at: int = 0


@dataclass(frozen=True)
class TemplatePut:
    """The answer to :meth:`NotifydClient.put_template`: the template as kept, and whether it is new."""

    template: Template
    created: bool


def _template(t: Any) -> Template:
    return Template(id=t.id, message=t.message, title=t.title, updated_at=t.updated_at)


@dataclass(frozen=True)
class FeedCounts:
    """What a bell shows: items not archived, and of these not seen and not read."""

    total: int
    unseen: int
    unread: int


@dataclass(frozen=True)
class FeedItem:
    """One notification of a user's feed with the user's state of it; ``data`` is the parsed JSON."""

    id: str
    type: str
    data: Any
    timestamp: int
    priority: str
    group: str
    seen: bool
    read: bool
    archived: bool


@dataclass(frozen=True)
class FeedPage:
    """One page of a feed, newest first; ``next_before`` is the next page's cursor ("" at the end)."""

    items: List[FeedItem]
    next_before: str


@dataclass(frozen=True)
class FeedMarked:
    """What MarkFeed changed, and the counts after it."""

    updated: int
    counts: FeedCounts


_FEED_FILTERS = {"inbox": pb.FEED_FILTER_INBOX, "unread": pb.FEED_FILTER_UNREAD,
                 "archived": pb.FEED_FILTER_ARCHIVED, "all": pb.FEED_FILTER_ALL}
_FEED_ACTIONS = {"seen": pb.FEED_ACTION_SEEN, "read": pb.FEED_ACTION_READ, "unread": pb.FEED_ACTION_UNREAD,
                 "archive": pb.FEED_ACTION_ARCHIVE, "unarchive": pb.FEED_ACTION_UNARCHIVE}
_PRIORITY_NAMES = {pb.PRIORITY_HIGH: "high", pb.PRIORITY_URGENT: "urgent"}


def _feed_item(i: Any) -> FeedItem:
    return FeedItem(id=i.id, type=i.type, data=json.loads(i.data) if i.data else {}, timestamp=i.timestamp,
                    priority=_PRIORITY_NAMES.get(i.priority, "normal"), group=i.group, seen=i.seen,
                    read=i.read, archived=i.archived)


def _feed_counts(c: Any) -> FeedCounts:
    return FeedCounts(total=c.total, unseen=c.unseen, unread=c.unread)


@dataclass(frozen=True)
class Stats:
    total_connections: int
    connected_users: List[str] = field(default_factory=list)
    online_users: int = 0
    uptime_seconds: int = 0
    messages_total: int = 0
    deliveries_total: int = 0


@dataclass(frozen=True)
class Online:
    user_id: str
    is_online: bool
    connections: int


TokenSource = Union[str, Callable[[], str], None]


class NotifydClient:
    """A client for notifyd's gRPC API (``notification.v1.NotificationService``).

    >>> with NotifydClient("localhost:50051", token=service_jwt) as client:
    ...     d = client.notify_batchgo_open_url("42", "batch_001", ["https://example.com"], delay=1000)
    ...     print(d.message_id, d.connections)

    ``token`` is a JWT with role ``service`` or ``admin``, or a callable returning one (called
    for every call, so it may rotate). ``tls=True`` (or ``root_certificates``) for a notifyd
    with ``NOTIFYD_TLS_CERT_FILE``. ``timeout`` is each call's deadline in seconds.
    Failures raise :class:`notifyd_client.NotifydError` (a subclass per gRPC code).
    """

    def __init__(self, target: str = DEFAULT_TARGET, token: TokenSource = None, *, tls: bool = False,
                 root_certificates: Optional[bytes] = None, timeout: Optional[float] = 10.0,
                 channel: Optional[grpc.Channel] = None, options: Sequence[Tuple[str, Any]] = ()):
        self.target = target
        self.timeout = timeout
        self._token = token
        self._own_channel = channel is None
        if channel is None:
            if tls or root_certificates:
                creds = grpc.ssl_channel_credentials(root_certificates=root_certificates)
                channel = grpc.secure_channel(target, creds, options=list(options))
            else:
                channel = grpc.insecure_channel(target, options=list(options))
        self.channel = channel
        self.stub = pbg.NotificationServiceStub(channel)

    # ---- plumbing ----

    def __enter__(self) -> "NotifydClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._own_channel:
            self.channel.close()

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Blocks until the channel is connected (raises Unavailable after ``timeout`` seconds)."""
        try:
            grpc.channel_ready_future(self.channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            from .errors import Unavailable
            raise Unavailable(grpc.StatusCode.UNAVAILABLE, "notifyd at %s not reachable in %ss" % (self.target, timeout)) from None

    def _metadata(self) -> List[Tuple[str, str]]:
        tok = self._token() if callable(self._token) else self._token
        return [("authorization", "Bearer " + tok)] if tok else []

    def call(self, method: str, request: Any, timeout: Optional[float] = None) -> Any:
        """Calls any RPC by name with a request message (``notifyd_client.pb``); returns the response."""
        rpc = getattr(self.stub, method)
        try:
            return rpc(request, metadata=self._metadata(), timeout=self.timeout if timeout is None else timeout)
        except grpc.RpcError as e:
            raise from_rpc_error(e, method) from None

    def _deliver(self, method: str, request: Any, timeout: Optional[float]) -> Delivery:
        r = self.call(method, request, timeout)
        return Delivery(message_id=r.message_id, connections=r.connections, stored=r.stored, feed=r.feed)

    def _task(self, method: str, request_cls: Any, user_id: str, task_id: str, *, task_type: str, status: str,
              progress: float, total: int, completed: int, failed: int, message: str, start_time: int,
              end_time: int, priority: PriorityLike, group: str, feed: Optional[bool], timeout: Optional[float]) -> Delivery:
        task = pb.TaskProgressData(task_id=task_id, task_type=task_type, status=status, progress=progress,
                                   total=total, completed=completed, failed=failed, message=message,
                                   start_time=start_time, end_time=end_time)
        return self._deliver(method, request_cls(user_id=user_id, task=task, **_common(priority, group, feed)), timeout)

    # ---- your own events ----

    def publish(self, type: str, data: Union[Mapping[str, Any], bytes, str, None] = None, *, user_id: str = "",
                user_ids: Optional[Sequence[str]] = None, broadcast: bool = False, store: StoreLike = None,
                ttl_ms: int = 0, priority: PriorityLike = None, group: str = "", feed: Optional[bool] = None,
                timeout: Optional[float] = None) -> Published:
        """Sends an event of your own ``type`` (``^[a-z][a-z0-9_.:-]{0,63}$``, not one of notifyd's
        own: connected, ping, pong, error, disconnected, refreshed, batch, feed_update) with ``data``:
        a dict (serialized), or JSON text (bytes/str, delivered exactly as written); at most 64 KiB.
        Give exactly one of ``user_id``, ``user_ids`` (1-1000) or ``broadcast=True``. ``store``:
        "auto" (default), "always" or "never"; ``ttl_ms``: how long a kept copy waits (0: the
        type's own; at most the server's NOTIFYD_OFFLINE_TTL)."""
        r = self.call("Publish", pb.PublishRequest(
            type=type, data=_json_bytes(data), user_id=user_id, user_ids=list(user_ids or ()),
            broadcast=broadcast, store=_store(store), ttl_ms=ttl_ms, **_common(priority, group, feed)), timeout)
        return Published(message_id=r.message_id, connections=r.connections, stored=r.stored,
                         message_ids=list(r.message_ids), users=r.users, reached=r.reached,
                         stored_users=r.stored_users, feed=r.feed, feed_users=r.feed_users)

    def disconnect_user(self, user_id: str, reason: str = "", *, reconnect: bool = False,
                        timeout: Optional[float] = None) -> Disconnected:
        """Closes every connection of ``user_id`` on every instance (role admin): each gets a
        ``disconnected`` message with ``reason`` (at most 123 bytes) and ``reconnect``, then close
        code 4004. ``reconnect=False`` (default) tells the client not to come back. Not a ban:
        a client with a valid token may connect again."""
        r = self.call("DisconnectUser", pb.DisconnectUserRequest(user_id=user_id, reason=reason,
                                                                 reconnect=reconnect), timeout)
        return Disconnected(user_id=r.user_id, closed=r.closed)

    # ---- task progress: batchgo_*, siterank_*, chengelink_* ----
    # Every notify method also takes priority= ("normal", "high", "urgent" or a Priority),
    # group= (a grouping key delivered in the envelope as "group") and feed= (True: also kept
    # in the user's notification feed, False: not; None: the type's default, SPEC §7d).

    def notify_batchgo_start(self, user_id: str, task_id: str, *, task_type: str = "", status: str = "running",
                             progress: float = 0, total: int = 0, completed: int = 0, failed: int = 0,
                             message: str = "", start_time: int = 0, end_time: int = 0,
                             priority: PriorityLike = None, group: str = "", feed: Optional[bool] = None,
                             timeout: Optional[float] = None) -> Delivery:
        """``batchgo_start`` (live only: not kept for offline users)."""
        return self._task("NotifyBatchGoStart", pb.NotifyBatchGoStartRequest, user_id, task_id, task_type=task_type,
                          status=status, progress=progress, total=total, completed=completed, failed=failed,
                          message=message, start_time=start_time, end_time=end_time, priority=priority,
                          group=group, feed=feed, timeout=timeout)

    def notify_batchgo_progress(self, user_id: str, task_id: str, *, task_type: str = "", status: str = "running",
                                progress: float = 0, total: int = 0, completed: int = 0, failed: int = 0,
                                message: str = "", start_time: int = 0, end_time: int = 0,
                                priority: PriorityLike = None, group: str = "", feed: Optional[bool] = None,
                                timeout: Optional[float] = None) -> Delivery:
        """``batchgo_progress`` (live only; a slow reader gets only the newest of a task)."""
        return self._task("NotifyBatchGoProgress", pb.NotifyBatchGoProgressRequest, user_id, task_id,
                          task_type=task_type, status=status, progress=progress, total=total, completed=completed,
                          failed=failed, message=message, start_time=start_time, end_time=end_time,
                          priority=priority, group=group, feed=feed, timeout=timeout)

    def notify_batchgo_complete(self, user_id: str, task_id: str, *, task_type: str = "", status: str = "completed",
                                progress: float = 100, total: int = 0, completed: int = 0, failed: int = 0,
                                message: str = "", start_time: int = 0, end_time: int = 0,
                                priority: PriorityLike = None, group: str = "", feed: Optional[bool] = None,
                                timeout: Optional[float] = None) -> Delivery:
        """``batchgo_complete`` (kept for offline users)."""
        return self._task("NotifyBatchGoComplete", pb.NotifyBatchGoCompleteRequest, user_id, task_id,
                          task_type=task_type, status=status, progress=progress, total=total, completed=completed,
                          failed=failed, message=message, start_time=start_time, end_time=end_time,
                          priority=priority, group=group, feed=feed, timeout=timeout)

    def notify_siterank_start(self, user_id: str, task_id: str, *, task_type: str = "", status: str = "running",
                              progress: float = 0, total: int = 0, completed: int = 0, failed: int = 0,
                              message: str = "", start_time: int = 0, end_time: int = 0,
                              priority: PriorityLike = None, group: str = "", feed: Optional[bool] = None,
                              timeout: Optional[float] = None) -> Delivery:
        """``siterank_start``."""
        return self._task("NotifySiteRankStart", pb.NotifySiteRankStartRequest, user_id, task_id,
                          task_type=task_type, status=status, progress=progress, total=total, completed=completed,
                          failed=failed, message=message, start_time=start_time, end_time=end_time,
                          priority=priority, group=group, feed=feed, timeout=timeout)

    def notify_siterank_progress(self, user_id: str, task_id: str, *, task_type: str = "", status: str = "running",
                                 progress: float = 0, total: int = 0, completed: int = 0, failed: int = 0,
                                 message: str = "", start_time: int = 0, end_time: int = 0,
                                 priority: PriorityLike = None, group: str = "", feed: Optional[bool] = None,
                                 timeout: Optional[float] = None) -> Delivery:
        """``siterank_progress``."""
        return self._task("NotifySiteRankProgress", pb.NotifySiteRankProgressRequest, user_id, task_id,
                          task_type=task_type, status=status, progress=progress, total=total, completed=completed,
                          failed=failed, message=message, start_time=start_time, end_time=end_time,
                          priority=priority, group=group, feed=feed, timeout=timeout)

    def notify_siterank_complete(self, user_id: str, task_id: str, *, task_type: str = "", status: str = "completed",
                                 progress: float = 100, total: int = 0, completed: int = 0, failed: int = 0,
                                 message: str = "", start_time: int = 0, end_time: int = 0,
                                 priority: PriorityLike = None, group: str = "", feed: Optional[bool] = None,
                                 timeout: Optional[float] = None) -> Delivery:
        """``siterank_complete`` (kept for offline users)."""
        return self._task("NotifySiteRankComplete", pb.NotifySiteRankCompleteRequest, user_id, task_id,
                          task_type=task_type, status=status, progress=progress, total=total, completed=completed,
                          failed=failed, message=message, start_time=start_time, end_time=end_time,
                          priority=priority, group=group, feed=feed, timeout=timeout)

    def notify_chengelink_start(self, user_id: str, task_id: str, *, task_type: str = "", status: str = "running",
                                progress: float = 0, total: int = 0, completed: int = 0, failed: int = 0,
                                message: str = "", start_time: int = 0, end_time: int = 0,
                                priority: PriorityLike = None, group: str = "", feed: Optional[bool] = None,
                                timeout: Optional[float] = None) -> Delivery:
        """``chengelink_start``."""
        return self._task("NotifyChengelinkStart", pb.NotifyChengelinkStartRequest, user_id, task_id,
                          task_type=task_type, status=status, progress=progress, total=total, completed=completed,
                          failed=failed, message=message, start_time=start_time, end_time=end_time,
                          priority=priority, group=group, feed=feed, timeout=timeout)

    def notify_chengelink_progress(self, user_id: str, task_id: str, *, task_type: str = "", status: str = "running",
                                   progress: float = 0, total: int = 0, completed: int = 0, failed: int = 0,
                                   message: str = "", start_time: int = 0, end_time: int = 0,
                                   priority: PriorityLike = None, group: str = "", feed: Optional[bool] = None,
                                   timeout: Optional[float] = None) -> Delivery:
        """``chengelink_progress``."""
        return self._task("NotifyChengelinkProgress", pb.NotifyChengelinkProgressRequest, user_id, task_id,
                          task_type=task_type, status=status, progress=progress, total=total, completed=completed,
                          failed=failed, message=message, start_time=start_time, end_time=end_time,
                          priority=priority, group=group, feed=feed, timeout=timeout)

    def notify_chengelink_complete(self, user_id: str, task_id: str, *, task_type: str = "",
                                   status: str = "completed", progress: float = 100, total: int = 0,
                                   completed: int = 0, failed: int = 0, message: str = "", start_time: int = 0,
                                   end_time: int = 0, priority: PriorityLike = None, group: str = "", feed: Optional[bool] = None,
                                   timeout: Optional[float] = None) -> Delivery:
        """``chengelink_complete`` (kept for offline users)."""
        return self._task("NotifyChengelinkComplete", pb.NotifyChengelinkCompleteRequest, user_id, task_id,
                          task_type=task_type, status=status, progress=progress, total=total, completed=completed,
                          failed=failed, message=message, start_time=start_time, end_time=end_time,
                          priority=priority, group=group, feed=feed, timeout=timeout)

    # ---- the other notifications ----
    # The text-carrying ones (send_system_notification, notify_token_insufficient,
    # notify_plan_expiring, notify_plan_expired, broadcast, notify_users) also take
    # template_id= + params= instead of title/message: leave message out, e.g.
    #   client.send_system_notification("u1", template_id="welcome", params={"name": "Ann"})

    def notify_batchgo_open_url(self, user_id: str, task_id: str, urls: Sequence[str], *, delay: int = 1000,
                                priority: PriorityLike = None, group: str = "", feed: Optional[bool] = None,
                                timeout: Optional[float] = None) -> Delivery:
        """``batchgo_open_url``: the browser opens each URL in a new tab, ``delay`` ms apart (1-100 http(s) URLs)."""
        return self._deliver("NotifyBatchGoOpenUrl", pb.NotifyBatchGoOpenUrlRequest(
            user_id=user_id, task_id=task_id, urls=list(urls), delay=delay, **_common(priority, group, feed)), timeout)

    def send_system_notification(self, user_id: str, message: str = "", *, title: str = "",
                                 level: LevelLike = Level.INFO, action: str = "", action_url: str = "",
                                 priority: PriorityLike = None, group: str = "", feed: Optional[bool] = None, template_id: str = "",
                                 params: Optional[Mapping[str, Any]] = None,
                                 timeout: Optional[float] = None) -> Delivery:
        """``system_notification`` to one user; ``level`` is "info", "warning", "error", "success" or a Level.
        ``message`` is required unless ``template_id`` names a template (its title and message are then
        rendered with ``params``)."""
        return self._deliver("SendSystemNotification", pb.SendSystemNotificationRequest(
            user_id=user_id, title=title, message=message, level=_level(level), action=action,
            action_url=action_url, **_common(priority, group, feed), **_templated(template_id, params)), timeout)

    def notify_token_insufficient(self, user_id: str, current_balance: int, required_tokens: int, *,
                                  task_type: str = "", message: str = "", priority: PriorityLike = None,
                                  group: str = "", feed: Optional[bool] = None, template_id: str = "", params: Optional[Mapping[str, Any]] = None,
                                  timeout: Optional[float] = None) -> Delivery:
        """``token_insufficient``; ``template_id`` + ``params`` render its message."""
        return self._deliver("NotifyTokenInsufficient", pb.NotifyTokenInsufficientRequest(
            user_id=user_id, current_balance=current_balance, required_tokens=required_tokens,
            task_type=task_type, message=message, **_common(priority, group, feed), **_templated(template_id, params)),
            timeout)

    def notify_plan_expiring(self, user_id: str, plan_name: str, days_left: int, expires_at: int, *,
                             message: str = "", upgrade_url: str = "", priority: PriorityLike = None,
                             group: str = "", feed: Optional[bool] = None, template_id: str = "", params: Optional[Mapping[str, Any]] = None,
                             timeout: Optional[float] = None) -> Delivery:
        """``plan_expiring``; ``expires_at`` in Unix seconds; ``template_id`` + ``params`` render its message."""
        return self._deliver("NotifyPlanExpiring", pb.NotifyPlanExpiringRequest(
            user_id=user_id, plan_name=plan_name, days_left=days_left, expires_at=expires_at, message=message,
            upgrade_url=upgrade_url, **_common(priority, group, feed), **_templated(template_id, params)), timeout)

    def notify_plan_expired(self, user_id: str, plan_name: str, expires_at: int, *, message: str = "",
                            upgrade_url: str = "", priority: PriorityLike = None, group: str = "", feed: Optional[bool] = None,
                            template_id: str = "", params: Optional[Mapping[str, Any]] = None,
                            timeout: Optional[float] = None) -> Delivery:
        """``plan_expired``; ``expires_at`` in Unix seconds; ``template_id`` + ``params`` render its message."""
        return self._deliver("NotifyPlanExpired", pb.NotifyPlanExpiredRequest(
            user_id=user_id, plan_name=plan_name, expires_at=expires_at, message=message,
            upgrade_url=upgrade_url, **_common(priority, group, feed), **_templated(template_id, params)), timeout)

    def broadcast(self, message: str = "", *, title: str = "", level: LevelLike = Level.INFO, action: str = "",
                  action_url: str = "", priority: PriorityLike = None, group: str = "", feed: Optional[bool] = None, template_id: str = "",
                  params: Optional[Mapping[str, Any]] = None, timeout: Optional[float] = None) -> Delivery:
        """``system_notification`` to every connection (not kept for offline users). A template used
        here cannot use ``{{user_id}}``."""
        return self._deliver("Broadcast", pb.BroadcastRequest(
            title=title, message=message, level=_level(level), action=action, action_url=action_url,
            **_common(priority, group, feed), **_templated(template_id, params)), timeout)

    def notify_users(self, user_ids: Sequence[str], message: str = "", *, title: str = "",
                     level: LevelLike = Level.INFO, action: str = "", action_url: str = "",
                     priority: PriorityLike = None, group: str = "", feed: Optional[bool] = None, template_id: str = "",
                     params: Optional[Mapping[str, Any]] = None,
                     timeout: Optional[float] = None) -> MulticastDelivery:
        """One ``system_notification`` to each of ``user_ids`` (1-1000; a repeat counts once), each with
        its own message id. With ``template_id``, ``{{user_id}}`` is filled per recipient."""
        r = self.call("NotifyUsers", pb.NotifyUsersRequest(
            user_ids=list(user_ids), title=title, message=message, level=_level(level), action=action,
            action_url=action_url, **_common(priority, group, feed), **_templated(template_id, params)), timeout)
        return MulticastDelivery(message_ids=list(r.message_ids), users=r.users, reached=r.reached,
                                 stored=r.stored, connections=r.connections, feed_users=r.feed_users)

    def send_test_message(self, user_id: str, *, priority: PriorityLike = None, group: str = "", feed: Optional[bool] = None,
                          timeout: Optional[float] = None) -> Delivery:
        """A test ``system_notification`` (``data.test: true``) to one user."""
        return self._deliver("SendTestMessage", pb.SendTestMessageRequest(user_id=user_id, **_common(priority, group, feed)),
                             timeout)

    # ---- templates (role admin only: a service token gets PermissionDenied) ----

    def put_template(self, template_id: str, message: str, *, title: str = "",
                     timeout: Optional[float] = None) -> TemplatePut:
        """Creates or replaces a template: ``title`` and ``message`` with ``{{name}}`` placeholders
        (``{{user_id}}`` is each recipient's id)."""
        r = self.call("PutTemplate", pb.PutTemplateRequest(
            template=pb.Template(id=template_id, title=title, message=message)), timeout)
        return TemplatePut(template=_template(r.template), created=r.created)

    def get_template(self, template_id: str, *, timeout: Optional[float] = None) -> Template:
        """One template; raises :class:`NotFound` when there is none."""
        return _template(self.call("GetTemplate", pb.GetTemplateRequest(id=template_id), timeout).template)

    def list_templates(self, *, timeout: Optional[float] = None) -> List[Template]:
        """Every template, by id."""
        return [_template(t) for t in self.call("ListTemplates", pb.ListTemplatesRequest(), timeout).templates]

    def delete_template(self, template_id: str, *, timeout: Optional[float] = None) -> str:
        """Removes a template and answers its id; raises :class:`NotFound` when there is none."""
        return self.call("DeleteTemplate", pb.DeleteTemplateRequest(id=template_id), timeout).id

    # ---- questions ----

    def get_stats(self, *, timeout: Optional[float] = None) -> Stats:
        """Connections open now and the users they belong to."""
        r = self.call("GetStats", pb.GetStatsRequest(), timeout)
        return Stats(total_connections=r.total_connections, connected_users=list(r.connected_users),
                     online_users=r.online_users, uptime_seconds=r.uptime_seconds,
                     messages_total=r.messages_total, deliveries_total=r.deliveries_total)

    # ---- the notification feed (the bell and inbox of a web app) ----

    def list_feed(self, user_id: str, *, before: str = "", limit: int = 0, filter: str = "inbox",
                  timeout: Optional[float] = None) -> FeedPage:
        """One page of ``user_id``'s feed, newest first: ``limit`` items (1-100; 0: 20) older than
        ``before`` (a previous page's ``next_before``); ``filter``: inbox (not archived), unread,
        archived or all."""
        if filter not in _FEED_FILTERS:
            raise ValueError("filter must be inbox, unread, archived or all, not %r" % filter)
        r = self.call("ListFeed", pb.ListFeedRequest(user_id=user_id, before=before, limit=limit,
                                                     filter=_FEED_FILTERS[filter]), timeout)
        return FeedPage(items=[_feed_item(i) for i in r.items], next_before=r.next_before)

    def get_feed_counts(self, user_id: str, *, timeout: Optional[float] = None) -> FeedCounts:
        """``user_id``'s feed counts: total, unseen, unread (archived items not counted)."""
        return _feed_counts(self.call("GetFeedCounts", pb.GetFeedCountsRequest(user_id=user_id), timeout))

    def mark_feed(self, user_id: str, action: str, ids: Optional[Sequence[str]] = None, *, all: bool = False,
                  timeout: Optional[float] = None) -> FeedMarked:
        """Marks ``ids`` (1-500 item ids) or ``all=True`` items of ``user_id``'s feed: ``action``
        is seen, read (implies seen), unread, archive or unarchive. Every connection of the user
        then gets a ``feed_update`` message with the new counts."""
        if action not in _FEED_ACTIONS:
            raise ValueError("action must be seen, read, unread, archive or unarchive, not %r" % action)
        r = self.call("MarkFeed", pb.MarkFeedRequest(user_id=user_id, ids=list(ids or ()), all=all,
                                                     action=_FEED_ACTIONS[action]), timeout)
        return FeedMarked(updated=r.updated, counts=_feed_counts(r.counts))

    def is_user_online(self, user_id: str, *, timeout: Optional[float] = None) -> Online:
        """Whether ``user_id`` has at least one open connection, and how many."""
        r = self.call("IsUserOnline", pb.IsUserOnlineRequest(user_id=user_id), timeout)
        return Online(user_id=r.user_id, is_online=r.is_online, connections=r.connections)
