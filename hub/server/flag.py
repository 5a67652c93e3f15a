"""A small stand-in for :class:`asyncio.Event`, for objects held once per connection.

An ``asyncio.Event`` allocates a ``collections.deque`` for its waiters up front: about 760 bytes
on CPython 3.11, even for an event nobody ever waits on. A hub holding 10,000 idle connections
kept several per connection (docs/benchmarks.md, "Memory per idle connection"). :class:`Flag`
keeps the same ``set``/``clear``/``is_set``/``wait`` contract and allocates a waiter future only
while someone waits.
"""

from __future__ import annotations

import asyncio


class Flag:
    """Set or clear; :meth:`wait` returns once it is set (at once when it already is)."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        """Set the flag and wake every waiter."""
        self._set = True
        waiters, self._waiters = self._waiters, None
        for fut in waiters or ():
            if not fut.done():
                fut.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        """Return once the flag is set. A cancelled waiter leaves the others waiting."""
        if self._set:
            return
        fut = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(fut)
        try:
            await fut
        finally:
            if self._waiters is not None and fut in self._waiters:
                self._waiters.remove(fut)
                if not self._waiters:
                    self._waiters = None
