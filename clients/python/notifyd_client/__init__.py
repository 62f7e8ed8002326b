"""notifyd_client: a typed Python client for notifyd's gRPC API.

    from notifyd_client import NotifydClient

    with NotifydClient("localhost:50051", token=service_jwt) as client:
        # your own event: any type, any JSON object as data
        p = client.publish("order.shipped", {"order_id": "A-1001", "carrier": "DHL"}, user_id="42")
        print(p.message_id, p.connections, p.stored)
        d = client.send_system_notification("42", "您有新的消息", title="系统通知", level="info")

``list_feed``, ``get_feed_counts`` and ``mark_feed`` read and change a user's notification feed.
``publish`` sends an event of your own type (to ``user_id``, ``user_ids`` or ``broadcast=True``,
with ``store=`` and ``ttl_ms=``); ``disconnect_user`` (admin) closes a user's connections.
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
from .client import (DEFAULT_TARGET, Delivery, Disconnected, FeedCounts, FeedItem, FeedMarked, FeedPage, Level,
                     MulticastDelivery, NotifydClient, Online, Priority, Published, Stats, Store, Template,
                     TemplatePut)
from .errors import (DeadlineExceeded, InvalidArgument, NotFound, NotifydError, PermissionDenied,
                     ResourceExhausted, Unauthenticated, Unavailable)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TARGET", "Delivery", "Disconnected", "FeedCounts", "FeedItem", "FeedMarked", "FeedPage", "Level", "MulticastDelivery", "NotifydClient", "Online",
    "Priority", "Published", "Stats", "Store", "Template", "TemplatePut", "NotifydError", "InvalidArgument", "Unauthenticated", "PermissionDenied", "NotFound",
    "ResourceExhausted", "Unavailable", "DeadlineExceeded", "pb", "pb_grpc",
]
