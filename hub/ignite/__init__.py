"""Apache Ignite integration: continuous queries over the thin-client protocol (see docs/ignite.md).

The errors live in :mod:`hub.core.errors` (the hub's one error tree); they are re-exported here because
they are part of this package's public surface.
"""

from hub.core.errors import (
    BinaryDecodeError,
    CacheNotFound,
    ContinuousQueryError,
    CQConnectError,
    SubscriptionLost,
)

from .binary_types import BinaryEnum, BinaryObject
from .continuous_query import ContinuousQuery, CQEvent, EventType, continuous_query

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
