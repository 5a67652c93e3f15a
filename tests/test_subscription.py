"""Resumable syncs (hub/server/subscription.py): every ``page`` carries a cursor no higher than the
watermark read before it, and a catch-up from any page cursor brings exactly what the pages after
it (and later changes) would have. Real uvicorn on a free port, MemoryStore."""

from __future__ import annotations

from typing import Any

import pytest

from hub import codec
from hub.authz import AccessPolicy
from hub.config import Config, HubSettings
from hub.core import messages as m
from hub.core.types import Change, CollectionSpec
from hub.metrics import HubMetrics
from hub.server import subscription
from hub.server.pages import cut_pages
from hub.server.subscription import PAGE_SIZE, READ_SIZE, Subscription
from hub.server.syncreads import SyncReads, SyncSlots
from hub.store.memory import MemoryStore
from tests.support.server import running_hub
from tests.support.wsclient import HubClient


class HeldWatermark(MemoryStore):
    """The feed's own advances are ignored: the test places the closed watermark itself."""

    held = True

    async def advance(self, coll: str) -> int:
        if self.held:
            return (await self.info(coll)).closed
        return await super().advance(coll)


def _config() -> Config:
    return Config(hub=HubSettings(dev_auth=True, ping_ms=2000), collections=(CollectionSpec("todos"),))


def _pages(c: HubClient) -> list[dict[str, Any]]:
    return [m for m in c.received if m["t"] == "page" and m["coll"] == "todos"]


async def test_page_cursors_stay_at_or_below_the_watermark_and_resume_exactly() -> None:
    store = HeldWatermark()
    async with running_hub(_config(), store) as run:
        for i in range(700):
            store.external_write("todos", f"d{i:04d}", {"n": i})
        store.held = False
        watermark = await store.advance("todos")
        store.held = True
        # committed above the watermark: a resume point past it could miss a late commit below them
        for i in range(700, 1300):
            store.external_write("todos", f"d{i:04d}", {"n": i})

        first = HubClient(run.url)
        await first.connect()
        synced = await first.sub("todos")
        pages = _pages(first)
        await first.close()
        assert synced["cursor"][1] == watermark and len(pages) == 3
        epoch = synced["cursor"][0]
        lasts = [p["changes"][-1][1] for p in pages]
        assert [p["cursor"] for p in pages] == [[epoch, min(last, watermark)] for last in lasts]
        assert pages[0]["cursor"][1] == lasts[0] < watermark < lasts[1]

        # changes after the interrupted sync: a delete and an edit of documents of the first page
        gone = pages[0]["changes"][0][0]
        edited = pages[0]["changes"][1][0]
        store.external_write("todos", gone, None)
        store.external_write("todos", edited, {"n": -1})
        expected = {i: d for i, d in first.docs("todos").items() if i != gone}
        expected[edited] = {"n": -1}

        for k, page in enumerate(pages):
            # a client that received pages 0..k, then lost the socket, resumes from page k's cursor
            resumed = HubClient(run.url)
            resumed.models["todos"] = {ch[0]: (ch[1], ch[2]) for p in pages[: k + 1] for ch in p["changes"]}
            await resumed.connect()
            done = await resumed.sub("todos", page["cursor"])
            got = {ch[0]: ch[1] for p in _pages(resumed) for ch in p["changes"]}
            await resumed.close()
            assert done["mode"] == "catchup" and not done["reset"]
            assert resumed.docs("todos") == expected
            # exactly the rest: nothing at or below the cursor is sent again
            assert got and min(got.values()) > page["cursor"][1]
            rest = {ch[0] for p in pages for ch in p["changes"] if ch[1] > page["cursor"][1]}
            assert set(got) == rest | {gone, edited}


class _Port:
    """A connection whose socket writes nothing: every frame stays queued (``delivered`` is None)."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.sync_reads = SyncReads(store, SyncSlots())
        self.overlap_ms = 0
        self.max_frame = 1 << 20
        self.hold_bytes = 1 << 20
        self.policy = AccessPolicy({})
        self.metrics = HubMetrics()
        self.identity = None
        self.client_id = "c1"
        self.controls: list[dict[str, Any]] = []
        self.live_ok = True

    def send_control(self, msg: dict[str, Any], coll: str | None = None, cursor: Any = None) -> None:
        self.controls.append(msg)

    async def send_sync(self, coll: str, frame: bytes) -> None:
        pass

    def send_live_now(self, coll: str, frame: bytes, cursor: Any) -> bool:
        return False  # every live frame is queued here (push_live decides)

    def push_live(self, coll: str, frame: bytes, cursor: Any, received: float = 0.0, events: int = 0) -> bool:
        return self.live_ok

    def delivered(self, coll: str) -> Any:
        return None

    def fail(self, exc: BaseException) -> None:
        raise AssertionError(f"the sync failed: {exc!r}")


async def test_a_resync_before_synced_is_written_catches_up_from_it() -> None:
    """The first sync of a client ends; its ``synced`` is still queued (the client reads slowly)
    when the held live frames overflow the queue: the ``slow`` resync must catch up from the cursor
    of that ``synced`` (the client will hold it: control frames are never dropped), not start
    over from no cursor with a snapshot. (It did: a fresh-clone run saw a second snapshot.)"""
    store = MemoryStore()
    await store.ensure_collection(CollectionSpec("todos"))
    for i in range(5):
        store.external_write("todos", f"d{i}", {"n": i})
    port = _Port(store)
    sub = Subscription(port, "todos", 1, None)  # type: ignore[arg-type]
    sub.start(None)
    assert sub.task is not None
    await sub.task
    synced = [c for c in port.controls if c["t"] == "synced"]
    assert synced and synced[0]["mode"] == "snapshot"
    sub.resync("slow")
    assert sub.task is not None
    await sub.task
    resyncs = [c for c in port.controls if c["t"] == "resync"]
    again = [c for c in port.controls if c["t"] == "synced"][1]
    assert resyncs == [m.resync("todos", "slow", "catchup")]
    assert again["mode"] == "catchup" and not again["reset"]


def test_a_store_read_is_cut_into_pages_whose_cursors_never_split_a_version() -> None:
    """Pages of one store read (hub/server/subscription.py ``_frames``): at most ``PAGE_SIZE``
    changes each; a page followed by one that goes on with its last version (two hubs stamped it)
    carries no cursor, or a client resuming from it would skip the rest of that version."""
    size = PAGE_SIZE
    vers = [*range(1, size + 1), size, *range(size + 1, 2 * size)]  # page 1 ends in a tie
    vers += list(range(2 * size, 2 * size + 10))
    changes = [Change(f"d{i}", v, {"n": i}) for i, v in enumerate(vers)]
    pages = cut_pages(changes, last=5000, covered=3 * size, epoch="e", resumable=True, page_size=size)
    assert [len(p) for p, _ in pages] == [size, size, 10]
    assert [p for page, _ in pages for p in page] == changes
    # page 1 ends with version `size` and page 2 starts with it: no cursor; page 2 ends below the
    # next version; the last page: the read's last version, capped at the watermark
    assert [at for _, at in pages] == [None, ("e", 2 * size - 1), ("e", 3 * size)]
    assert all(at is None for _, at in cut_pages(changes, 5000, 3 * size, "e", False, size))
    assert cut_pages([], 7, 9, "e", True, size) == []


class _Limits(MemoryStore):
    """Records the ``limit`` of every ``changes`` read."""

    def __init__(self) -> None:
        super().__init__()
        self.limits: list[int] = []

    async def changes(self, coll: str, after: int, limit: int, *, include_deleted: bool) -> list[Change]:
        self.limits.append(limit)
        return await super().changes(coll, after, limit, include_deleted=include_deleted)


class _Frames(_Port):
    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        self.frames: list[dict[str, Any]] = []

    async def send_sync(self, coll: str, frame: bytes) -> None:
        self.frames.append(codec.decode(frame))


@pytest.mark.parametrize(("blob", "most"), [(10, READ_SIZE), (2000, 60)])
async def test_store_reads_hold_about_read_bytes_whatever_the_document_size(
    blob: int, most: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first read of a sync takes ``PAGE_SIZE`` changes; the next ones as many as
    ``READ_BYTES`` hold at the bytes per change seen so far, up to ``READ_SIZE``: small documents
    are read 2,000 at a time, large ones a few at a time (memory stays bounded). Every document
    is sent once."""
    monkeypatch.setattr(subscription, "READ_BYTES", 100_000)
    store = _Limits()
    await store.ensure_collection(CollectionSpec("todos"))
    n = 6000
    for i in range(n):
        store.external_write("todos", f"d{i:05d}", {"b": "x" * blob})
    port = _Frames(store)
    sub = Subscription(port, "todos", 1, None)  # type: ignore[arg-type]
    sub.start(None)
    assert sub.task is not None
    await sub.task
    sent = [ch[0] for f in port.frames for ch in f["changes"]]
    assert len(sent) == len(set(sent)) == n
    assert store.limits[:2] == [PAGE_SIZE, PAGE_SIZE]  # the second read starts before the first is sent
    assert 1 <= max(store.limits[2:]) <= most and max(store.limits[2:]) > most // 2
