"""Hub messages of query subscriptions (docs/protocol.md "Query subscriptions").

A ``sub`` with a ``filter`` or a ``name`` (parsed in :mod:`hub.core.messages`) is answered with
``qpage`` frames, then ``qsynced``; its live changes come as ``qchg``, one frame per distinct
subset ``q`` whatever the number of its subscribers; ``qresync`` restarts its sync.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .cursor import Cursor
from .limits import DEFAULT_DOC_LIMITS, DocLimits
from .messages import ChangeLike, changes


def qpage(
    coll: str,
    sub_id: int,
    cs: Sequence[ChangeLike],
    done: int,
    cursor: Cursor | None = None,
    limits: DocLimits = DEFAULT_DOC_LIMITS,
) -> dict[str, Any]:
    """A page of a query subscription's sync: ``[id, ver, nil]`` is a removal from the subset."""
    return {
        "t": "qpage",
        "coll": coll,
        "id": sub_id,
        "changes": changes(cs, limits),
        "done": done,
        "cursor": None if cursor is None else list(cursor),
    }


def qsynced(coll: str, sub_id: int, q: str, cursor: Cursor, mode: str, reset: bool) -> dict[str, Any]:
    """A query subscription's sync is complete; its live changes come as ``qchg {q}``."""
    return {
        "t": "qsynced",
        "coll": coll,
        "id": sub_id,
        "q": q,
        "cursor": list(cursor),
        "mode": mode,
        "reset": reset,
    }


def qresync(coll: str, sub_id: int, reason: str, mode: str) -> dict[str, Any]:
    return {"t": "qresync", "coll": coll, "id": sub_id, "reason": reason, "mode": mode}


def qchg(
    coll: str, q: str, cs: Sequence[ChangeLike], cursor: Cursor, limits: DocLimits = DEFAULT_DOC_LIMITS
) -> dict[str, Any]:
    """Live changes of the subset ``q``, the same bytes for all its subscribers."""
    return {"t": "qchg", "coll": coll, "q": q, "changes": changes(cs, limits), "cursor": list(cursor)}
