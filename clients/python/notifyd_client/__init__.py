"""notifyd_client: a typed Python client for notifyd's gRPC API.

    from notifyd_client import NotifydClient

    with NotifydClient("localhost:50051", token=service_jwt) as client:
        d = client.send_system_notification("42", "您有新的消息", title="系统通知", level="info")
        print(d.message_id, d.connections, d.stored)

Every RPC of ``notification.v1.NotificationService`` has a method (``notify_users`` for a
multicast, ``put_template``/``get_template``/``list_templates``/``delete_template``; every
notify method takes ``priority=`` and ``group=``, the text-carrying ones ``template_id=`` +
``params=``); failures raise ``NotifydError`` (``InvalidArgument``, ``Unauthenticated``,
``PermissionDenied``, ``NotFound``, ``ResourceExhausted``, ``Unavailable``, ``DeadlineExceeded``)
with the gRPC code and notifyd's message. The generated messages and stub are ``notifyd_client.pb`` and
``notifyd_client.pb_grpc``.
"""
from ._proto import notification_pb2 as pb
from ._proto import notification_pb2_grpc as pb_grpc
from .client import (DEFAULT_TARGET, Delivery, Level, MulticastDelivery, NotifydClient, Online, Priority, Stats,
                     Template, TemplatePut)
from .errors import (DeadlineExceeded, InvalidArgument, NotFound, NotifydError, PermissionDenied,
                     ResourceExhausted, Unauthenticated, Unavailable)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TARGET", "Delivery", "Level", "MulticastDelivery", "NotifydClient", "Online", "Priority", "Stats",
    "Template", "TemplatePut", "NotifydError", "InvalidArgument", "Unauthenticated", "PermissionDenied", "NotFound",
    "ResourceExhausted", "Unavailable", "DeadlineExceeded", "pb", "pb_grpc",
]
