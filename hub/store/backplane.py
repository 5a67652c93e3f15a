"""The presence backplane: how hubs share room members and broadcasts (docs/sync-model.md "Presence").

:class:`Backplane` is the contract; ``hub/store/ignite/presence.py`` implements it on Ignite (the
only backplane between hubs), :class:`LocalBackplane` in process for a hub on the memory store.

Events come back to every hub, the writer included, in the backplane's order per key:
:class:`MemberPut` (created, replaced or refreshed), :class:`MemberGone` (removed or expired) and
:class:`Broadcast`. A lost event stream raises from :meth:`Backplane.events`; the caller opens it
again and reconciles with :meth:`Backplane.snapshot` (taken after the stream is open).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from hub.core.presence import Key, Member


@dataclass(frozen=True, slots=True)
class MemberPut:
    member: Member


@dataclass(frozen=True, slots=True)
class MemberGone:
    key: Key
    owner: str | None  # whose entry it was, when the event says


@dataclass(frozen=True, slots=True)
class Broadcast:
    hub: str  # the hub it was sent on (which delivered it to its own members already)
    frame: dict[str, Any]


Event = MemberPut | MemberGone | Broadcast


class Backplane(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def put(self, m: Member) -> None:
        """Create or take over ``m``'s entry (its expiry starts again)."""

    async def refresh(self, m: Member) -> bool:
        """Restart the expiry of ``m``'s entry if it still holds exactly ``m``; False otherwise."""

    async def restore(self, m: Member) -> bool:
        """Write ``m`` if its key has no entry (it expired under a live connection)."""

    async def remove(self, m: Member) -> bool:
        """Remove the entry if it still holds exactly ``m`` (not when another connection took it)."""

    async def publish(self, hub: str, frame: dict[str, Any]) -> None: ...

    async def snapshot(self) -> list[Member]: ...

    def events(self) -> AsyncIterator[list[Event]]:
        """The event stream: its first batch is empty and comes once the stream is open."""


class LocalBackplane:
    """One process, no expiry (the hub is the process): entries live in a dict."""

    def __init__(self) -> None:
        self.entries: dict[Key, Member] = {}
        self._queue: asyncio.Queue[list[Event]] = asyncio.Queue()

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def put(self, m: Member) -> None:
        self.entries[m.key] = m
        self._queue.put_nowait([MemberPut(m)])

    async def refresh(self, m: Member) -> bool:
        return self.entries.get(m.key) == m

    async def restore(self, m: Member) -> bool:
        if m.key in self.entries:
            return False
        await self.put(m)
        return True

    async def remove(self, m: Member) -> bool:
        if self.entries.get(m.key) != m:
            return False
        del self.entries[m.key]
        self._queue.put_nowait([MemberGone(m.key, m.owner)])
        return True

    async def publish(self, hub: str, frame: dict[str, Any]) -> None:
        self._queue.put_nowait([Broadcast(hub, frame)])

    async def snapshot(self) -> list[Member]:
        return list(self.entries.values())

    async def events(self) -> AsyncIterator[list[Event]]:
        yield []
        while True:
            yield await self._queue.get()
