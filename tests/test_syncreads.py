"""hub.server.syncreads: sync reads bounded hub-wide, and the same read shared while it waits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.core.errors import StoreUnavailable
from hub.server.syncreads import SyncReads, SyncSlots


class Store:
    """Counts ``count`` calls; each waits until the test releases it."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.fail = False

    async def count(self, coll: str) -> int:
        self.calls += 1
        n = self.calls
        await self.gate.wait()
        if self.fail:
            raise StoreUnavailable("down")
        return n


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_the_same_read_waiting_for_a_slot_is_made_once_for_all_its_callers() -> None:
    store, slots = Store(), SyncSlots(1)
    conns = [SyncReads(store, slots) for _ in range(5)]  # type: ignore[arg-type]
    first = asyncio.ensure_future(conns[0].count("c"))  # holds the only slot
    await settle()
    waiting = [asyncio.ensure_future(c.count("c")) for c in conns[1:4]]
    await settle()
    assert store.calls == 1  # the others wait for the slot, as one call
    waiting[0].cancel()  # a caller that goes leaves the call to the others
    store.gate.set()
    assert await first == 1
    assert [await w for w in waiting[1:]] == [2, 2]
    assert store.calls == 2
    with pytest.raises(asyncio.CancelledError):
        await waiting[0]


@pytest.mark.asyncio
async def test_a_read_that_has_started_is_never_joined() -> None:
    """It may have read before a later caller's call was made: that caller reads again."""
    store, slots = Store(), SyncSlots(4)
    a, b = SyncReads(store, slots), SyncReads(store, slots)  # type: ignore[arg-type]
    first = asyncio.ensure_future(a.count("c"))
    await settle()  # running (a slot was free)
    second = asyncio.ensure_future(b.count("c"))
    await settle()
    store.gate.set()
    assert (await first, await second) == (1, 2)


@pytest.mark.asyncio
async def test_an_error_reaches_every_caller_and_nothing_is_left_behind() -> None:
    store, slots = Store(), SyncSlots(1)
    store.fail = True
    conns = [SyncReads(store, slots) for _ in range(3)]  # type: ignore[arg-type]
    calls: list[Any] = [asyncio.ensure_future(c.count("c")) for c in conns]
    await settle()
    store.gate.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, StoreUnavailable) for r in results)
    assert store.calls == 1 and not slots.queued  # all three were made before it started: one read


def test_a_shared_page_is_framed_as_any_page_and_its_changes_are_encoded_once() -> None:
    from hub import codec
    from hub.core import messages as m
    from hub.core.limits import DEFAULT_DOC_LIMITS
    from hub.core.types import Change
    from hub.server.pages import encode_chunks, encode_shared_page
    from hub.server.syncreads import SharedPage

    page = SharedPage([Change(f"d{i}", i + 1, {"n": i, "pad": "x" * 300}) for i in range(40)])
    limits = DEFAULT_DOC_LIMITS.for_frame(1 << 20)
    for max_frame in (1 << 20, 4_000):  # one frame; and cut into parts, the cursor in the last one

        def build(cs: Any) -> dict[str, Any]:
            return m.page("c", 7, cs, 40, 40, ("e", 40) if cs[-1] is page[-1] else None, limits)

        expected = [codec.decode(f) for f, _ in encode_chunks(build, page, max_frame)]

        def head(last: bool) -> dict[str, Any]:
            return m.page_head("c", 7, 40, 40, ("e", 40) if last else None)

        got = [codec.decode(f) for f in encode_shared_page(head, page, 0, len(page), limits, max_frame)]
        assert got == expected and len(got) == (1 if max_frame > 4_000 else len(expected))
        parts = len(page.encoded)
        encode_shared_page(
            head, page, 0, len(page), limits, max_frame
        )  # another subscriber: nothing encoded again
        assert len(page.encoded) == parts
    assert len(expected) > 1


def test_encode_with_adds_an_encoded_value_last() -> None:
    from hub import codec

    head = {"t": "page", "id": 3, "cursor": None}
    raw = codec.encode([[1, 2, {"a": "b"}]])
    assert codec.encode_with(head, "changes", raw) == codec.encode({**head, "changes": [[1, 2, {"a": "b"}]]})
    with pytest.raises(ValueError):
        codec.encode_with(head, "id", raw)
