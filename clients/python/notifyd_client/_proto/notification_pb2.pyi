from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
LEVEL_ERROR: Level
LEVEL_INFO: Level
LEVEL_SUCCESS: Level
LEVEL_UNSPECIFIED: Level
LEVEL_WARNING: Level

class BroadcastRequest(_message.Message):
    __slots__ = ["action", "action_url", "level", "message", "title"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTION_URL_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    action: str
    action_url: str
    level: Level
    message: str
    title: str
    def __init__(self, title: _Optional[str] = ..., message: _Optional[str] = ..., level: _Optional[_Union[Level, str]] = ..., action: _Optional[str] = ..., action_url: _Optional[str] = ...) -> None: ...

class BroadcastResponse(_message.Message):
    __slots__ = ["connections", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ...) -> None: ...

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

class NotifyBatchGoCompleteRequest(_message.Message):
    __slots__ = ["task", "user_id"]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ...) -> None: ...

class NotifyBatchGoCompleteResponse(_message.Message):
    __slots__ = ["connections", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ...) -> None: ...

class NotifyBatchGoOpenUrlRequest(_message.Message):
    __slots__ = ["delay", "task_id", "urls", "user_id"]
    DELAY_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    URLS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    delay: int
    task_id: str
    urls: _containers.RepeatedScalarFieldContainer[str]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task_id: _Optional[str] = ..., urls: _Optional[_Iterable[str]] = ..., delay: _Optional[int] = ...) -> None: ...

class NotifyBatchGoOpenUrlResponse(_message.Message):
    __slots__ = ["connections", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ...) -> None: ...

class NotifyBatchGoProgressRequest(_message.Message):
    __slots__ = ["task", "user_id"]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ...) -> None: ...

class NotifyBatchGoProgressResponse(_message.Message):
    __slots__ = ["connections", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ...) -> None: ...

class NotifyBatchGoStartRequest(_message.Message):
    __slots__ = ["task", "user_id"]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ...) -> None: ...

class NotifyBatchGoStartResponse(_message.Message):
    __slots__ = ["connections", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ...) -> None: ...

class NotifyChengelinkCompleteRequest(_message.Message):
    __slots__ = ["task", "user_id"]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ...) -> None: ...

class NotifyChengelinkCompleteResponse(_message.Message):
    __slots__ = ["connections", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ...) -> None: ...

class NotifyChengelinkProgressRequest(_message.Message):
    __slots__ = ["task", "user_id"]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ...) -> None: ...

class NotifyChengelinkProgressResponse(_message.Message):
    __slots__ = ["connections", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ...) -> None: ...

class NotifyChengelinkStartRequest(_message.Message):
    __slots__ = ["task", "user_id"]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ...) -> None: ...

class NotifyChengelinkStartResponse(_message.Message):
    __slots__ = ["connections", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ...) -> None: ...

class NotifyPlanExpiredRequest(_message.Message):
    __slots__ = ["expires_at", "message", "plan_name", "upgrade_url", "user_id"]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PLAN_NAME_FIELD_NUMBER: _ClassVar[int]
    UPGRADE_URL_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    expires_at: int
    message: str
    plan_name: str
    upgrade_url: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., plan_name: _Optional[str] = ..., expires_at: _Optional[int] = ..., message: _Optional[str] = ..., upgrade_url: _Optional[str] = ...) -> None: ...

class NotifyPlanExpiredResponse(_message.Message):
    __slots__ = ["connections", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ...) -> None: ...

class NotifyPlanExpiringRequest(_message.Message):
    __slots__ = ["days_left", "expires_at", "message", "plan_name", "upgrade_url", "user_id"]
    DAYS_LEFT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PLAN_NAME_FIELD_NUMBER: _ClassVar[int]
    UPGRADE_URL_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    days_left: int
    expires_at: int
    message: str
    plan_name: str
    upgrade_url: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., plan_name: _Optional[str] = ..., days_left: _Optional[int] = ..., expires_at: _Optional[int] = ..., message: _Optional[str] = ..., upgrade_url: _Optional[str] = ...) -> None: ...

class NotifyPlanExpiringResponse(_message.Message):
    __slots__ = ["connections", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ...) -> None: ...

class NotifySiteRankCompleteRequest(_message.Message):
    __slots__ = ["task", "user_id"]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ...) -> None: ...

class NotifySiteRankCompleteResponse(_message.Message):
    __slots__ = ["connections", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ...) -> None: ...

class NotifySiteRankProgressRequest(_message.Message):
    __slots__ = ["task", "user_id"]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ...) -> None: ...

class NotifySiteRankProgressResponse(_message.Message):
    __slots__ = ["connections", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ...) -> None: ...

class NotifySiteRankStartRequest(_message.Message):
    __slots__ = ["task", "user_id"]
    TASK_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    task: TaskProgressData
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., task: _Optional[_Union[TaskProgressData, _Mapping]] = ...) -> None: ...

class NotifySiteRankStartResponse(_message.Message):
    __slots__ = ["connections", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ...) -> None: ...

class NotifyTokenInsufficientRequest(_message.Message):
    __slots__ = ["current_balance", "message", "required_tokens", "task_type", "user_id"]
    CURRENT_BALANCE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    current_balance: int
    message: str
    required_tokens: int
    task_type: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., current_balance: _Optional[int] = ..., required_tokens: _Optional[int] = ..., task_type: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class NotifyTokenInsufficientResponse(_message.Message):
    __slots__ = ["connections", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ...) -> None: ...

class SendSystemNotificationRequest(_message.Message):
    __slots__ = ["action", "action_url", "level", "message", "title", "user_id"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTION_URL_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    action: str
    action_url: str
    level: Level
    message: str
    title: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., title: _Optional[str] = ..., message: _Optional[str] = ..., level: _Optional[_Union[Level, str]] = ..., action: _Optional[str] = ..., action_url: _Optional[str] = ...) -> None: ...

class SendSystemNotificationResponse(_message.Message):
    __slots__ = ["connections", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ...) -> None: ...

class SendTestMessageRequest(_message.Message):
    __slots__ = ["user_id"]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class SendTestMessageResponse(_message.Message):
    __slots__ = ["connections", "message_id", "stored"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    connections: int
    message_id: str
    stored: bool
    def __init__(self, message_id: _Optional[str] = ..., connections: _Optional[int] = ..., stored: bool = ...) -> None: ...

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

class Level(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
