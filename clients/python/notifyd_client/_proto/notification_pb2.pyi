from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
FEED_ACTION_ARCHIVE: FeedAction
FEED_ACTION_READ: FeedAction
FEED_ACTION_SEEN: FeedAction
FEED_ACTION_UNARCHIVE: FeedAction
FEED_ACTION_UNREAD: FeedAction
FEED_ACTION_UNSPECIFIED: FeedAction
FEED_FILTER_ALL: FeedFilter
FEED_FILTER_ARCHIVED: FeedFilter
FEED_FILTER_INBOX: FeedFilter
FEED_FILTER_UNREAD: FeedFilter
FEED_FILTER_UNSPECIFIED: FeedFilter
LEVEL_ERROR: Level
LEVEL_INFO: Level
LEVEL_SUCCESS: Level
LEVEL_UNSPECIFIED: Level
LEVEL_WARNING: Level
PRIORITY_HIGH: Priority
PRIORITY_NORMAL: Priority
PRIORITY_UNSPECIFIED: Priority
PRIORITY_URGENT: Priority
STORE_ALWAYS: Store
STORE_AUTO: Store
STORE_NEVER: Store
STORE_UNSPECIFIED: Store

class BroadcastRequest(_message.Message):
    __slots__ = ["action", "action_url", "feed", "group", "level", "message", "params", "priority", "template_id", "title"]
    class ParamsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTION_URL_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    action: str
    action_url: str
    feed: bool
    group: str
    level: Level
    message: str
    params: _containers.ScalarMap[str, str]
    priority: Priority
    template_id: str
    title: str
    def __init__(self, title: _Optional[str] = ..., message: _Optional[str] = ..., level: _Optional[_Union[Level, str]] = ..., action: _Optional[str] = ..., action_url: _Optional[str] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., template_id: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ..., feed: bool = ...) -> None: ...

class BroadcastResponse(_message.Message):
    __slots__ = ["connections", "feed", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed: bool
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ..., feed: bool = ...) -> None: ...

class DeleteTemplateRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteTemplateResponse(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DisconnectUserRequest(_message.Message):
    __slots__ = ["reason", "reconnect", "user_id"]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RECONNECT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    reason: str
    reconnect: bool
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., reason: _Optional[str] = ..., reconnect: bool = ...) -> None: ...

class DisconnectUserResponse(_message.Message):
    __slots__ = ["closed", "user_id"]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    closed: int
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., closed: _Optional[int] = ...) -> None: ...

class FeedCounts(_message.Message):
    __slots__ = ["total", "unread", "unseen"]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    UNREAD_FIELD_NUMBER: _ClassVar[int]
    UNSEEN_FIELD_NUMBER: _ClassVar[int]
    total: int
    unread: int
    unseen: int
    def __init__(self, total: _Optional[int] = ..., unseen: _Optional[int] = ..., unread: _Optional[int] = ...) -> None: ...

class FeedItem(_message.Message):
    __slots__ = ["archived", "data", "group", "id", "priority", "read", "seen", "timestamp", "type"]
    ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    SEEN_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    archived: bool
    data: bytes
    group: str
    id: str
    priority: Priority
    read: bool
    seen: bool
    timestamp: int
    type: str
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., data: _Optional[bytes] = ..., timestamp: _Optional[int] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., seen: bool = ..., read: bool = ..., archived: bool = ...) -> None: ...

class GetBacklogRequest(_message.Message):
    __slots__ = ["user_id"]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class GetBacklogResponse(_message.Message):
    __slots__ = ["messages", "newest_message_id", "oldest_message_id", "user_id"]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    NEWEST_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    OLDEST_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    messages: int
    newest_message_id: str
    oldest_message_id: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., messages: _Optional[int] = ..., oldest_message_id: _Optional[str] = ..., newest_message_id: _Optional[str] = ...) -> None: ...

class GetFeedCountsRequest(_message.Message):
    __slots__ = ["user_id"]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class GetFeedCountsResponse(_message.Message):
    __slots__ = ["total", "unread", "unseen"]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    UNREAD_FIELD_NUMBER: _ClassVar[int]
    UNSEEN_FIELD_NUMBER: _ClassVar[int]
    total: int
    unread: int
    unseen: int
    def __init__(self, total: _Optional[int] = ..., unseen: _Optional[int] = ..., unread: _Optional[int] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ["connected_users", "deliveries_total", "messages_total", "online_users", "total_connections", "uptime_seconds"]
    CONNECTED_USERS_FIELD_NUMBER: _ClassVar[int]
    DELIVERIES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ONLINE_USERS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    connected_users: _containers.RepeatedScalarFieldContainer[str]
    deliveries_total: int
    messages_total: int
    online_users: int
    total_connections: int
    uptime_seconds: int
    def __init__(self, total_connections: _Optional[int] = ..., connected_users: _Optional[_Iterable[str]] = ..., online_users: _Optional[int] = ..., uptime_seconds: _Optional[int] = ..., messages_total: _Optional[int] = ..., deliveries_total: _Optional[int] = ...) -> None: ...

class GetTemplateRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetTemplateResponse(_message.Message):
    __slots__ = ["template"]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    template: Template
    def __init__(self, template: _Optional[_Union[Template, _Mapping]] = ...) -> None: ...

class IsUserOnlineRequest(_message.Message):
    __slots__ = ["user_id"]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class IsUserOnlineResponse(_message.Message):
    __slots__ = ["connections", "is_online", "user_id"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    IS_ONLINE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    connections: int
    is_online: bool
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., is_online: bool = ..., connections: _Optional[int] = ...) -> None: ...

class ListFeedRequest(_message.Message):
    __slots__ = ["before", "filter", "limit", "user_id"]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    before: str
    filter: FeedFilter
    limit: int
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., before: _Optional[str] = ..., limit: _Optional[int] = ..., filter: _Optional[_Union[FeedFilter, str]] = ...) -> None: ...

class ListFeedResponse(_message.Message):
    __slots__ = ["items", "next_before"]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[FeedItem]
    next_before: str
    def __init__(self, items: _Optional[_Iterable[_Union[FeedItem, _Mapping]]] = ..., next_before: _Optional[str] = ...) -> None: ...

class ListTemplatesRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListTemplatesResponse(_message.Message):
    __slots__ = ["templates"]
    TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    templates: _containers.RepeatedCompositeFieldContainer[Template]
    def __init__(self, templates: _Optional[_Iterable[_Union[Template, _Mapping]]] = ...) -> None: ...

class MarkFeedRequest(_message.Message):
    __slots__ = ["action", "all", "ids", "user_id"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    action: FeedAction
    all: bool
    ids: _containers.RepeatedScalarFieldContainer[str]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., all: bool = ..., action: _Optional[_Union[FeedAction, str]] = ...) -> None: ...

class MarkFeedResponse(_message.Message):
    __slots__ = ["counts", "updated"]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    counts: FeedCounts
    updated: int
    def __init__(self, updated: _Optional[int] = ..., counts: _Optional[_Union[FeedCounts, _Mapping]] = ...) -> None: ...

class NotifyBatchGoCompleteRequest(_message.Message):
    __slots__ = ["feed", "group", "priority", "task", "user_id"]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    feed: bool
    group: str
    priority: Priority
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., feed: bool = ...) -> None: ...

class NotifyBatchGoCompleteResponse(_message.Message):
    __slots__ = ["connections", "feed", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed: bool
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ..., feed: bool = ...) -> None: ...

class NotifyBatchGoOpenUrlRequest(_message.Message):
    __slots__ = ["delay", "feed", "group", "priority", "task_id", "urls", "user_id"]
    DELAY_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    URLS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    delay: int
    feed: bool
    group: str
    priority: Priority
    task_id: str
    urls: _containers.RepeatedScalarFieldContainer[str]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task_id: _Optional[str] = ..., urls: _Optional[_Iterable[str]] = ..., delay: _Optional[int] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., feed: bool = ...) -> None: ...

class NotifyBatchGoOpenUrlResponse(_message.Message):
    __slots__ = ["connections", "feed", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed: bool
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ..., feed: bool = ...) -> None: ...

class NotifyBatchGoProgressRequest(_message.Message):
    __slots__ = ["feed", "group", "priority", "task", "user_id"]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    feed: bool
    group: str
    priority: Priority
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., feed: bool = ...) -> None: ...

class NotifyBatchGoProgressResponse(_message.Message):
    __slots__ = ["connections", "feed", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed: bool
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ..., feed: bool = ...) -> None: ...

class NotifyBatchGoStartRequest(_message.Message):
    __slots__ = ["feed", "group", "priority", "task", "user_id"]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    feed: bool
    group: str
    priority: Priority
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., feed: bool = ...) -> None: ...

class NotifyBatchGoStartResponse(_message.Message):
    __slots__ = ["connections", "feed", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed: bool
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ..., feed: bool = ...) -> None: ...

class NotifyChengelinkCompleteRequest(_message.Message):
    __slots__ = ["feed", "group", "priority", "task", "user_id"]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    feed: bool
    group: str
    priority: Priority
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., feed: bool = ...) -> None: ...

class NotifyChengelinkCompleteResponse(_message.Message):
    __slots__ = ["connections", "feed", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed: bool
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ..., feed: bool = ...) -> None: ...

class NotifyChengelinkProgressRequest(_message.Message):
    __slots__ = ["feed", "group", "priority", "task", "user_id"]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    feed: bool
    group: str
    priority: Priority
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., feed: bool = ...) -> None: ...

class NotifyChengelinkProgressResponse(_message.Message):
    __slots__ = ["connections", "feed", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed: bool
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ..., feed: bool = ...) -> None: ...

class NotifyChengelinkStartRequest(_message.Message):
    __slots__ = ["feed", "group", "priority", "task", "user_id"]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    feed: bool
    group: str
    priority: Priority
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., feed: bool = ...) -> None: ...

class NotifyChengelinkStartResponse(_message.Message):
    __slots__ = ["connections", "feed", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed: bool
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ..., feed: bool = ...) -> None: ...

class NotifyPlanExpiredRequest(_message.Message):
    __slots__ = ["expires_at", "feed", "group", "message", "params", "plan_name", "priority", "template_id", "upgrade_url", "user_id"]
    class ParamsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PLAN_NAME_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    UPGRADE_URL_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    expires_at: int
    feed: bool
    group: str
    message: str
    params: _containers.ScalarMap[str, str]
    plan_name: str
    priority: Priority
    template_id: str
    upgrade_url: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., plan_name: _Optional[str] = ..., expires_at: _Optional[int] = ..., message: _Optional[str] = ..., upgrade_url: _Optional[str] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., template_id: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ..., feed: bool = ...) -> None: ...

class NotifyPlanExpiredResponse(_message.Message):
    __slots__ = ["connections", "feed", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed: bool
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ..., feed: bool = ...) -> None: ...

class NotifyPlanExpiringRequest(_message.Message):
    __slots__ = ["days_left", "expires_at", "feed", "group", "message", "params", "plan_name", "priority", "template_id", "upgrade_url", "user_id"]
    class ParamsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DAYS_LEFT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PLAN_NAME_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    UPGRADE_URL_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    days_left: int
    expires_at: int
    feed: bool
    group: str
    message: str
    params: _containers.ScalarMap[str, str]
    plan_name: str
    priority: Priority
    template_id: str
    upgrade_url: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., plan_name: _Optional[str] = ..., days_left: _Optional[int] = ..., expires_at: _Optional[int] = ..., message: _Optional[str] = ..., upgrade_url: _Optional[str] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., template_id: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ..., feed: bool = ...) -> None: ...

class NotifyPlanExpiringResponse(_message.Message):
    __slots__ = ["connections", "feed", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed: bool
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ..., feed: bool = ...) -> None: ...

class NotifySiteRankCompleteRequest(_message.Message):
    __slots__ = ["feed", "group", "priority", "task", "user_id"]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    feed: bool
    group: str
    priority: Priority
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., feed: bool = ...) -> None: ...

class NotifySiteRankCompleteResponse(_message.Message):
    __slots__ = ["connections", "feed", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed: bool
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ..., feed: bool = ...) -> None: ...

class NotifySiteRankProgressRequest(_message.Message):
    __slots__ = ["feed", "group", "priority", "task", "user_id"]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    feed: bool
    group: str
    priority: Priority
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., feed: bool = ...) -> None: ...

class NotifySiteRankProgressResponse(_message.Message):
    __slots__ = ["connections", "feed", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed: bool
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ..., feed: bool = ...) -> None: ...

class NotifySiteRankStartRequest(_message.Message):
    __slots__ = ["feed", "group", "priority", "task", "user_id"]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    feed: bool
    group: str
    priority: Priority
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., feed: bool = ...) -> None: ...

class NotifySiteRankStartResponse(_message.Message):
    __slots__ = ["connections", "feed", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed: bool
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ..., feed: bool = ...) -> None: ...

class NotifyTokenInsufficientRequest(_message.Message):
    __slots__ = ["current_balance", "feed", "group", "message", "params", "priority", "required_tokens", "task_type", "template_id", "user_id"]
    class ParamsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CURRENT_BALANCE_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    current_balance: int
    feed: bool
    group: str
    message: str
    params: _containers.ScalarMap[str, str]
    priority: Priority
    required_tokens: int
    task_type: str
    template_id: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., current_balance: _Optional[int] = ..., required_tokens: _Optional[int] = ..., task_type: _Optional[str] = ..., message: _Optional[str] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., template_id: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ..., feed: bool = ...) -> None: ...

class NotifyTokenInsufficientResponse(_message.Message):
    __slots__ = ["connections", "feed", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed: bool
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ..., feed: bool = ...) -> None: ...

class NotifyUsersRequest(_message.Message):
    __slots__ = ["action", "action_url", "feed", "group", "level", "message", "params", "priority", "template_id", "title", "user_ids"]
    class ParamsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTION_URL_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    action: str
    action_url: str
    feed: bool
    group: str
    level: Level
    message: str
    params: _containers.ScalarMap[str, str]
    priority: Priority
    template_id: str
    title: str
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_ids: _Optional[_Iterable[str]] = ..., title: _Optional[str] = ..., message: _Optional[str] = ..., level: _Optional[_Union[Level, str]] = ..., action: _Optional[str] = ..., action_url: _Optional[str] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., template_id: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ..., feed: bool = ...) -> None: ...

class NotifyUsersResponse(_message.Message):
    __slots__ = ["connections", "feed_users", "message_ids", "reached", "stored", "users"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_USERS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_IDS_FIELD_NUMBER: _ClassVar[int]
    REACHED_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed_users: int
    message_ids: _containers.RepeatedScalarFieldContainer[str]
    reached: int
    stored: int
    users: int
    def __init__(self, message_ids: _Optional[_Iterable[str]] = ..., users: _Optional[int] = ..., reached: _Optional[int] = ..., stored: _Optional[int] = ..., connections: _Optional[int] = ..., feed_users: _Optional[int] = ...) -> None: ...

class PublishRequest(_message.Message):
    __slots__ = ["broadcast", "data", "feed", "group", "priority", "store", "ttl_ms", "type", "user_id", "user_ids"]
    BROADCAST_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    broadcast: bool
    data: bytes
    feed: bool
    group: str
    priority: Priority
    store: Store
    ttl_ms: int
    type: str
    user_id: str
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, type: _Optional[str] = ..., data: _Optional[bytes] = ..., user_id: _Optional[str] = ..., user_ids: _Optional[_Iterable[str]] = ..., broadcast: bool = ..., store: _Optional[_Union[Store, str]] = ..., ttl_ms: _Optional[int] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., feed: bool = ...) -> None: ...

class PublishResponse(_message.Message):
    __slots__ = ["connections", "feed", "feed_users", "message_id", "message_ids", "reached", "stored", "stored_users", "users"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    FEED_USERS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_IDS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REACHED_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    STORED_USERS_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed: bool
    feed_users: int
    message_id: str
    message_ids: _containers.RepeatedScalarFieldContainer[str]
    reached: int
    stored: bool
    stored_users: int
    users: int
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ..., message_ids: _Optional[_Iterable[str]] = ..., users: _Optional[int] = ..., reached: _Optional[int] = ..., stored_users: _Optional[int] = ..., feed: bool = ..., feed_users: _Optional[int] = ...) -> None: ...

class PutTemplateRequest(_message.Message):
    __slots__ = ["template"]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    template: Template
    def __init__(self, template: _Optional[_Union[Template, _Mapping]] = ...) -> None: ...

class PutTemplateResponse(_message.Message):
    __slots__ = ["created", "template"]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    created: bool
    template: Template
    def __init__(self, template: _Optional[_Union[Template, _Mapping]] = ..., created: bool = ...) -> None: ...

class SendSystemNotificationRequest(_message.Message):
    __slots__ = ["action", "action_url", "feed", "group", "level", "message", "params", "priority", "template_id", "title", "user_id"]
    class ParamsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTION_URL_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    action: str
    action_url: str
    feed: bool
    group: str
    level: Level
    message: str
    params: _containers.ScalarMap[str, str]
    priority: Priority
    template_id: str
    title: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., title: _Optional[str] = ..., message: _Optional[str] = ..., level: _Optional[_Union[Level, str]] = ..., action: _Optional[str] = ..., action_url: _Optional[str] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., template_id: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ..., feed: bool = ...) -> None: ...

class SendSystemNotificationResponse(_message.Message):
    __slots__ = ["connections", "feed", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed: bool
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ..., feed: bool = ...) -> None: ...

class SendTestMessageRequest(_message.Message):
    __slots__ = ["feed", "group", "priority", "user_id"]
    FEED_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    feed: bool
    group: str
    priority: Priority
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., priority: _Optional[_Union[Priority, str]] = ..., group: _Optional[str] = ..., feed: bool = ...) -> None: ...

class SendTestMessageResponse(_message.Message):
    __slots__ = ["connections", "feed", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    feed: bool
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ..., feed: bool = ...) -> None: ...

class TaskProgressData(_message.Message):
    __slots__ = ["completed", "end_time", "failed", "message", "progress", "start_time", "status", "task_id", "task_type", "total"]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    completed: int
    end_time: int
    failed: int
    message: str
    progress: float
    start_time: int
    status: str
    task_id: str
    task_type: str
    total: int
    def __init__(self, task_id: _Optional[str] = ..., task_type: _Optional[str] = ..., status: _Optional[str] = ..., progress: _Optional[float] = ..., total: _Optional[int] = ..., completed: _Optional[int] = ..., failed: _Optional[int] = ..., message: _Optional[str] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ...) -> None: ...

class Template(_message.Message):
    __slots__ = ["id", "message", "title", "updated_at"]
    ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    message: str
    title: str
    updated_at: int
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., message: _Optional[str] = ..., updated_at: _Optional[int] = ...) -> None: ...

class Level(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Priority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Store(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class FeedFilter(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class FeedAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
