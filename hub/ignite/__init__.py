"""Apache Ignite integration: continuous queries over the thin-client protocol (see docs/ignite.md)."""

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
from .decode import BinaryDecodeError, BinaryEnum, BinaryObject

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
