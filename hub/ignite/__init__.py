"""Apache Ignite integration: continuous queries over the thin-client protocol (see docs/ignite.md)."""

from .binary import BinaryDecodeError, BinaryEnum, BinaryObject
from .continuous_query import (
    CacheNotFound,
    ContinuousQuery,
    ContinuousQueryError,
    CQConnectError,
    CQEvent,
    EventType,
    SubscriptionLost,
    continuous_query,
)

__all__ = [
    "BinaryDecodeError",
    "BinaryEnum",
    "BinaryObject",
    "CQConnectError",
    "CQEvent",
    "CacheNotFound",
    "ContinuousQuery",
    "ContinuousQueryError",
    "EventType",
    "SubscriptionLost",
    "continuous_query",
]
