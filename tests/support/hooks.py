"""Merge hooks for the integration tests (imported by the hub process through ``PYTHONPATH``)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from hub.core.conflict import MergeContext

Doc = Mapping[str, Any]


def counter(current: Doc | None, incoming: Doc | None, ctx: MergeContext) -> Doc | None:
    """``n = current.n + incoming.inc`` (a missing document counts as ``n = 0``); a delete deletes.
    Deterministic: the result depends only on the stored document and the mutation."""
    if incoming is None:
        return None
    base = int(current.get("n", 0)) if current is not None else 0
    return {"n": base + int(incoming.get("inc", 0))}


def ledger(current: Doc | None, incoming: Doc | None, ctx: MergeContext) -> Doc | None:
    """An append-only ledger (the chaos suite): ``n`` counts the increments and ``log`` lists their
    ``op`` ids in the order they were applied, so a write applied twice shows as a repeated id and a
    lost one as a missing id. A delete deletes."""
    if incoming is None:
        return None
    log = [str(x) for x in (current.get("log") or [])] if current is not None else []
    log.append(str(incoming.get("op", "")))
    base = int(current.get("n", 0)) if current is not None else 0
    return {"n": base + int(incoming.get("inc", 0)), "log": log}


def chaos_identity(token: str) -> dict[str, Any] | None:
    """Authentication hook of the chaos suite (``[auth] mode = "hook"``): ``<user>`` or
    ``<user>@<team>``; the team is a claim a row filter reads (``tests.support.acl:team_only``), so a
    token refresh can change what a user may read."""
    if not token:
        return None
    user, _, team = token.partition("@")
    return {"sub": user, "team": team} if team else {"sub": user}


async def slow_identity(token: str) -> dict[str, Any] | None:
    """An authentication hook that takes 0.8 s (an identity provider slower than the hello timeout
    of tests/test_ws.py), then accepts any token."""
    await asyncio.sleep(0.8)
    return {"sub": token or "slow"}
