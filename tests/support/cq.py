"""Waiting on continuous queries in tests: bounded, with a message that says what was awaited.

Ignite forwards a new continuous query's events only once its start reply has left the server's
socket (docs/ignite.md, "Start-up window"): a write made right after ``continuous_query()`` returns
can go unseen. A test that writes and then awaits an event must first :func:`prime` the query.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from hub.ignite import CQEvent, EventType

#: The priming key (an int fits plain caches and INT-keyed SQL tables alike).
SENTINEL = -424242
#: How long one event batch may take to arrive before a test fails with what it awaited.
EVENT_TIMEOUT_S = 30.0


async def next_batch(
    events: AsyncIterator[list[CQEvent]], what: str, timeout: float = EVENT_TIMEOUT_S
) -> list[CQEvent]:
    """The next notification batch of ``events``; AssertionError naming ``what`` after ``timeout`` s."""
    try:
        return await asyncio.wait_for(anext(events), timeout)
    except TimeoutError:
        raise AssertionError(f"no continuous-query event within {timeout:g}s: awaited {what}") from None


async def collect(
    events: AsyncIterator[list[CQEvent]], n: int, what: str = "", timeout: float = EVENT_TIMEOUT_S
) -> list[CQEvent]:
    """The next ``n`` events (each batch bounded by ``timeout``); exactly ``n`` must arrive."""
    out: list[CQEvent] = []
    while len(out) < n:
        out.extend(
            await next_batch(events, f"{what or 'events'} ({len(out)} of {n} so far: {out[-3:]})", timeout)
        )
    assert len(out) == n, out
    return out


def _sentinel_value(value: Any) -> Any:
    return value.get("AGE") if isinstance(value, dict) else value


async def prime(
    events: AsyncIterator[list[CQEvent]],
    write: Callable[[int], Awaitable[Any]],
    remove: Callable[[], Awaitable[Any]],
    *,
    timeout: float = EVENT_TIMEOUT_S,
) -> None:
    """Wait until the server forwards this query's events, then leave the cache as it was.

    Writes the sentinel (``write(i)`` puts value ``i`` under :data:`SENTINEL`) until one of its
    events arrives, then removes it (``remove()``) and consumes that removal. Only sentinel events
    may arrive meanwhile: the caller has not written anything else yet.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    i = 0
    seen = False
    while not seen:
        if loop.time() > deadline:
            raise AssertionError(
                f"continuous query forwarded no event within {timeout:g}s of sentinel writes"
            )
        i += 1
        await write(i)
        try:
            while not seen:
                batch = await asyncio.wait_for(anext(events), 0.5)
                assert all(e.key == SENTINEL for e in batch), batch
                seen = any(e.value is not None and _sentinel_value(e.value) == i for e in batch)
        except TimeoutError:
            continue  # written inside the start-up window: write again
    await remove()
    while True:
        batch = await next_batch(events, "the removal of the priming sentinel", timeout)
        assert all(e.key == SENTINEL for e in batch), batch
        if any(e.type == EventType.REMOVED for e in batch):
            return


async def prime_cache(
    events: AsyncIterator[list[CQEvent]], cache: Any, *, timeout: float = EVENT_TIMEOUT_S
) -> None:
    """:func:`prime` through a pyignite cache (key-value puts and a remove of the sentinel key)."""
    await prime(events, lambda i: cache.put(SENTINEL, i), lambda: cache.remove_key(SENTINEL), timeout=timeout)
