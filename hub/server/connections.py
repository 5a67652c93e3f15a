"""The open client connections of one hub: who is connected, how many per subject, and the two
ways they end when the hub stops (drain, then close).

The registry knows a connection only through the small :class:`Peer` protocol, so it imports
nothing of the connection (``hub/server/connection.py``), and the hub (``hub/server/hub.py``)
holds a registry instead of a set of connection objects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Protocol

from hub.core.ratelimit import ConnectionCounter


class Waitable(Protocol):
    """An :class:`asyncio.Event` or a :class:`~hub.server.flag.Flag`."""

    async def wait(self) -> object: ...


class Peer(Protocol):
    """What the registry needs from a connection."""

    @property
    def finished(self) -> Waitable:
        """Set once the connection has shut down completely."""
        ...

    def begin_drain(self) -> None:
        """Read nothing more, finish the batches already read, then close with 4500."""
        ...

    def request_close(self, code: int, reason: str) -> None:
        """Close as soon as the writer gets to it."""
        ...


class Connections:
    """The registry of open connections with the per-subject connection cap.

    Args:
        max_per_subject: Connections one subject (for anonymous clients: one address) may hold
            at once; 0 means unlimited.
    """

    def __init__(self, max_per_subject: int = 0) -> None:
        self._peers: set[Peer] = set()
        self._counter = ConnectionCounter(max_per_subject) if max_per_subject > 0 else None
        self._claims: dict[Peer, str] = {}

    def __len__(self) -> int:
        return len(self._peers)

    def __iter__(self) -> Iterator[Peer]:
        return iter(list(self._peers))

    def add(self, peer: Peer) -> None:
        self._peers.add(peer)

    def remove(self, peer: Peer) -> None:
        """Forget ``peer`` and give back the slot it claimed, if any."""
        self._peers.discard(peer)
        key = self._claims.pop(peer, None)
        if key is not None and self._counter is not None:
            self._counter.release(key)

    def claim(self, peer: Peer, key: str) -> bool:
        """Count ``peer`` against ``key`` (``sub:<subject>`` or ``addr:<address>``); False when
        that key already holds the maximum. A peer claims at most once."""
        if self._counter is None or peer in self._claims:
            return True
        if not self._counter.acquire(key):
            return False
        self._claims[peer] = key
        return True

    async def drain(self, timeout: float) -> None:
        """Let every connection finish the batches it has read, then close with 4500; wait at
        most ``timeout`` s for them to finish."""
        peers = list(self._peers)
        for peer in peers:
            peer.begin_drain()
        await _wait_finished(peers, timeout)

    async def close_all(self, code: int, reason: str, timeout: float) -> None:
        """Close every connection now; wait at most ``timeout`` s for them to finish."""
        peers = list(self._peers)
        for peer in peers:
            peer.request_close(code, reason)
        await _wait_finished(peers, timeout)


async def _wait_finished(peers: list[Peer], timeout: float) -> None:
    if not peers:
        return
    waiters = [asyncio.ensure_future(p.finished.wait()) for p in peers]
    _, pending = await asyncio.wait(waiters, timeout=timeout)
    for w in pending:  # never leave the waiters of stuck connections behind
        w.cancel()
