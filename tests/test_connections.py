"""hub.server.connections: the registry of open connections, with fake peers."""

from __future__ import annotations

import asyncio

from hub.server.connections import Connections


class FakePeer:
    def __init__(self, *, finish_on_close: bool = True) -> None:
        self.finished = asyncio.Event()
        self.drained = False
        self.closed: tuple[int, str] | None = None
        self.finish_on_close = finish_on_close

    def begin_drain(self) -> None:
        self.drained = True
        if self.finish_on_close:
            self.finished.set()

    def request_close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        if self.finish_on_close:
            self.finished.set()


def test_per_subject_cap_and_release() -> None:
    reg = Connections(max_per_subject=2)
    a, b, c = FakePeer(), FakePeer(), FakePeer()
    for p in (a, b, c):
        reg.add(p)
    assert reg.claim(a, "sub:alice") and reg.claim(b, "sub:alice")
    assert not reg.claim(c, "sub:alice")
    assert reg.claim(c, "sub:bob")
    assert reg.claim(a, "sub:alice")  # a peer claims at most once
    assert len(reg) == 3 and set(reg) == {a, b, c}
    reg.remove(a)
    assert len(reg) == 2
    assert reg.claim(FakePeer(), "sub:alice")  # a's slot was given back
    reg.remove(c)
    reg.remove(c)  # removing twice is harmless


def test_unlimited_when_zero() -> None:
    reg = Connections(0)
    peers = [FakePeer() for _ in range(50)]
    assert all(reg.claim(p, "sub:alice") for p in peers)
    assert not reg


async def test_drain_and_close_all() -> None:
    reg = Connections()
    a, stuck = FakePeer(), FakePeer(finish_on_close=False)
    reg.add(a)
    reg.add(stuck)
    await reg.drain(0.05)  # returns although one peer never finishes
    assert a.drained and stuck.drained
    await reg.close_all(4500, "bye", 0.05)
    assert a.closed == stuck.closed == (4500, "bye")
    await Connections().drain(1)  # nothing to wait for
