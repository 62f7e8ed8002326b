"""Errors raised by the notifyd client: one exception per gRPC status, all NotifydError."""
from __future__ import annotations

from typing import Dict, Optional, Type

import grpc


class NotifydError(Exception):
    """A call to notifyd failed.

    ``code`` is the ``grpc.StatusCode``, ``code_name`` its name (``"INVALID_ARGUMENT"``),
    ``details`` notifyd's message (for INVALID_ARGUMENT it starts with the offending field,
    e.g. ``urls[1] must be an http:// or https:// URL``) and ``method`` the RPC.
    """

    def __init__(self, code: grpc.StatusCode, details: str, method: str = ""):
        self.code = code
        self.code_name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        self.details = details or ""
        self.method = method
        super().__init__(str(self))

    def __str__(self) -> str:
        where = " (%s)" % self.method if self.method else ""
        return "%s: %s%s" % (self.code_name, self.details, where)

    def __reduce__(self):
        return (type(self), (self.code, self.details, self.method))


class InvalidArgument(NotifydError):
    """A field is missing or out of range; ``details`` names it first."""


class Unauthenticated(NotifydError):
    """No token, a bad signature, or an expired token."""


class PermissionDenied(NotifydError):
    """The token is valid but its role is neither ``admin`` nor ``service`` (templates: not ``admin``)."""


class NotFound(NotifydError):
    """No such thing: ``GetTemplate`` / ``DeleteTemplate`` of a template that does not exist."""


class ResourceExhausted(NotifydError):
    """Over ``NOTIFYD_API_RATE_LIMIT`` (or a request over the size limit)."""


class Unavailable(NotifydError):
    """notifyd is unreachable, shutting down, or its store failed: retry later."""


class DeadlineExceeded(NotifydError):
    """No answer within the call's timeout."""


_BY_CODE: Dict[grpc.StatusCode, Type[NotifydError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
}


def from_rpc_error(err: grpc.RpcError, method: str = "") -> NotifydError:
    """The NotifydError (subclass) for a failed call."""
    code: Optional[grpc.StatusCode] = err.code() if hasattr(err, "code") else None
    details = err.details() if hasattr(err, "details") else str(err)
    if code is None:
        code = grpc.StatusCode.UNKNOWN
    return _BY_CODE.get(code, NotifydError)(code, details or "", method)
