"""The error hierarchy and close codes.

::

    HubError
    ├── ClientProtocolError      the peer broke the protocol (4000-4009)
    │   ├── BadFrame             4000
    │   ├── BadMessage           4001
    │   ├── UnsupportedVersion   4002
    │   ├── UnexpectedMessage    4003
    │   ├── UnknownType          4004
    │   └── FrameTooLarge        4009
    ├── Unauthorized             4010 (``reason`` says why)
    │   └── TokenExpired         4511, the token expired; retry with a fresh one
    ├── OriginNotAllowed         4030
    ├── RateLimited              4529
    ├── TooManyConnections       4531
    ├── IdleTimeout              4508
    ├── HubUsageError            misconfiguration by the operator (not sent to clients)
    │   └── IgniteConnectError   Ignite refused the hub's credentials or TLS (``synchub serve`` probe)
    ├── InvalidDocument          a document the store cannot keep: that mutation's result is 4001
    ├── StoreUnavailable         4503, wraps Ignite errors; clients retry
    │   └── ContinuousQueryError a continuous query failed to start or broke (``status``, ``message``)
    │       ├── CacheNotFound    server status 1000
    │       ├── CQConnectError   no node took the CQ connection (also a ConnectionError)
    │       └── SubscriptionLost the event stream ended (``reason``)
    ├── FeedLost                 a collection's live feed broke; the hub reopens it and resyncs
    ├── RetentionPassed          catch-up below the tombstone floor; the hub answers RESYNC
    ├── FastPathUnavailable      the hub's own read path cannot serve a call; pyignite's does
    ├── BinaryDecodeError        Ignite binary data the hub's decoder cannot read (also a ValueError)
    └── GoingAway                4500, hub shutting down; clients retry elsewhere

The last four never close a connection: the store and the feed handle them (resync, reopen, fall
back to pyignite) before they reach one. Should one escape as a bug it closes 4510 like any other.

Codes 4000-4499 tell the client not to retry; 4500-4999 tell it to retry with backoff.
"""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    NORMAL = 1000
    BAD_FRAME = 4000
    BAD_MESSAGE = 4001
    UNSUPPORTED_VERSION = 4002
    UNEXPECTED_MESSAGE = 4003
    UNKNOWN_TYPE = 4004
    FRAME_TOO_LARGE = 4009
    UNAUTHORIZED = 4010
    ORIGIN_NOT_ALLOWED = 4030
    GOING_AWAY = 4500
    STORE_UNAVAILABLE = 4503
    IDLE_TIMEOUT = 4508
    INTERNAL_ERROR = 4510
    TOKEN_EXPIRED = 4511
    RATE_LIMITED = 4529
    TOO_MANY_CONNECTIONS = 4531
    OVERLOADED = 4532


class ErrorCode(IntEnum):
    """Codes of per-request errors (``error`` frames and mutation results)."""

    INVALID_MUTATION = 4001
    UNAUTHORIZED = 4010  # an ``auth`` refresh was refused; the previous token stays in force
    FORBIDDEN = 4403
    UNKNOWN_COLLECTION = 4404  # no hub of the cluster has ever served it: final
    DOC_TOO_LARGE = 4413  # the document breaks the document limits (hub/core/limits.py): final
    # A query subscription's filter, named subscription or parameters cannot be served (hub/core/subsets.py).
    INVALID_QUERY = 4422
    # Rooms (docs/protocol.md "Rooms"): answered with ``error {room}``, the connection stays open.
    NOT_JOINED = 4409  # pupdate / bcast / leave of a room the connection is not in
    TOO_LARGE = 4413  # a member state or broadcast beyond the room limits
    TOO_MANY_ROOMS = 4429  # the connection is in ``max_rooms`` rooms already
    RATE_LIMITED = 4529  # broadcasts beyond the rate: this one was dropped; slow down
    # This hub does not serve the collection, another hub of the cluster does (a rolling deploy):
    # not applied and not recorded, so the client keeps it and sends it again on its next connection.
    NOT_SERVED_HERE = 4504


def is_retryable(code: int) -> bool:
    """Whether a client should reconnect after a close with ``code``."""
    return code < 4000 or code >= 4500


class HubError(Exception):
    """Root of every error synchub raises on purpose."""

    close_code: int = CloseCode.INTERNAL_ERROR

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class ClientProtocolError(HubError):
    """The peer broke the protocol."""

    close_code = CloseCode.BAD_MESSAGE


class BadFrame(ClientProtocolError):
    close_code = CloseCode.BAD_FRAME


class BadMessage(ClientProtocolError):
    close_code = CloseCode.BAD_MESSAGE


class UnsupportedVersion(ClientProtocolError):
    close_code = CloseCode.UNSUPPORTED_VERSION


class UnexpectedMessage(ClientProtocolError):
    close_code = CloseCode.UNEXPECTED_MESSAGE


class UnknownType(ClientProtocolError):
    close_code = CloseCode.UNKNOWN_TYPE


class FrameTooLarge(ClientProtocolError):
    close_code = CloseCode.FRAME_TOO_LARGE

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"frame of {size} bytes exceeds the limit of {limit}")
        self.size = size
        self.limit = limit


class Unauthorized(HubError):
    """Authentication failed. ``reason`` is a short machine-readable word (``missing``,
    ``malformed``, ``bad_signature``, ``expired``, ...), safe to send to the client as the close
    reason; ``detail`` is for the hub's log only."""

    close_code = CloseCode.UNAUTHORIZED

    def __init__(self, reason: str = "unauthorized", detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class TokenExpired(Unauthorized):
    """The token expired (at ``hello`` or on a live connection): get a fresh one and reconnect."""

    close_code = CloseCode.TOKEN_EXPIRED

    def __init__(self, detail: str = "") -> None:
        super().__init__("expired", detail)


class OriginNotAllowed(HubError):
    close_code = CloseCode.ORIGIN_NOT_ALLOWED

    def __init__(self, origin: str | None) -> None:
        super().__init__("origin not allowed")
        self.origin = origin


class RateLimited(HubError):
    """The connection sent more than its limits allow (``kind``: ``messages``, ``mutations``...)."""

    close_code = CloseCode.RATE_LIMITED

    def __init__(self, kind: str) -> None:
        super().__init__(f"rate limited ({kind})")
        self.kind = kind


class TooManyConnections(HubError):
    close_code = CloseCode.TOO_MANY_CONNECTIONS

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} connections for this user")
        self.limit = limit


class IdleTimeout(HubError):
    close_code = CloseCode.IDLE_TIMEOUT


class HubUsageError(HubError):
    """The operator misconfigured the hub (bad config, bad collection settings)."""


class InvalidDocument(HubError, ValueError):
    """A document field cannot be stored with the type its binary type (or SQL column) requires.

    Raised by a store's encoding (:data:`hub.core.mutation.Encode`); the write rule answers that one
    mutation ``{s: "error", code: 4001}`` and the connection stays open.
    """

    close_code = CloseCode.BAD_MESSAGE


class StoreUnavailable(HubError):
    """Ignite could not be reached or refused an operation; the client should retry."""

    close_code = CloseCode.STORE_UNAVAILABLE


class GoingAway(HubError):
    close_code = CloseCode.GOING_AWAY


# -- the store and Ignite ---------------------------------------------------------------------------


class IgniteConnectError(HubUsageError):
    """Ignite answered but refused the connection: ``reason`` is ``authentication`` or ``tls``.

    A usage error: the fix is in the ``[ignite]`` settings (credentials, TLS), not a retry.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ContinuousQueryError(StoreUnavailable):
    """A continuous query could not be started or failed; ``status``/``message`` come from the server.

    The store turns these into StoreUnavailable (start) or FeedLost (a running feed) at once, so being
    a StoreUnavailable changes no handler; it only places them in the tree.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message if status is None else f"{message} (status {status})")
        self.status = status
        self.message = message


class CacheNotFound(ContinuousQueryError):
    """The cache does not exist on the cluster (server status 1000)."""


class CQConnectError(ContinuousQueryError, ConnectionError):
    """No node accepted the dedicated CQ connection (refused, timed out, or died during the handshake)."""


class SubscriptionLost(ContinuousQueryError):
    """The event stream ended: events may have been missed, the caller must resubscribe and resync.

    ``reason``: "overflow" (consumer too slow for ``buffer_batches``), "connection" (socket lost),
    "timeout" (liveness probe unanswered), "server" (error notification), "closed" (connection shut down),
    "decode" (a value could not be decoded), "metadata" (fetching binary type metadata failed).
    """

    def __init__(self, reason: str, detail: str = "", status: int | None = None) -> None:
        super().__init__(
            f"continuous query subscription lost: {reason}{': ' + detail if detail else ''}", status
        )
        self.reason = reason


class FeedLost(HubError):
    """The live feed of a collection broke (continuous query lost, or the fan-out fell behind);
    changes may have been missed. The hub's feed reopens it and resyncs its subscribers.

    Not a StoreUnavailable: the fan-out raises it too, with Ignite healthy.
    """


class RetentionPassed(HubError):
    """``changes(..., include_deleted=True)`` was asked for versions at or below the collection's floor:
    tombstones it needs may have been purged. The hub answers with a RESYNC (reason ``retention``)."""


class FastPathUnavailable(HubError):
    """The hub's own read path cannot make a request (a key type, cache option or context it does not
    handle); the caller falls back to pyignite."""


class BinaryDecodeError(HubError, ValueError):
    """The buffer is not valid Ignite binary data (or uses a type this decoder does not know)."""
