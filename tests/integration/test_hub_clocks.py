"""Catch-up that does not depend on clocks: hubs whose clocks are a minute apart, a commit held
past the old overlap, a device whose clock runs hours ahead, a collection with no deletes for
longer than the tombstone retention. Real Ignite, real hub processes (libfaketime shifts one hub's
wall clock), clients over WebSockets. Each test failed before the closed watermark
(hub/store/ignite/closed.py) and the settled cursors (hub/server/feed.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.core.types import CollectionSpec, Mutation
from hub.store.ignite import IgniteStore
from tests.integration.conftest import HubFactory, fresh, sub, wait_for
from tests.support.acl import metrics
from tests.support.hubproc import HubProcess
from tests.support.wsclient import HubClient

pytestmark = pytest.mark.asyncio(loop_scope="session")

SKEW_S = 60
SETTLE_WAIT_S = 2.0  # both hubs have settled (read the watermark) since the last write


async def _client(clients: list[HubClient], hub: HubProcess, **kw: Any) -> HubClient:
    c = HubClient(hub.url, fresh("c"), **kw)
    clients.append(c)
    await c.connect()
    return c


async def _settled_past(c: HubClient, coll: str, ver: int) -> list[Any]:
    """Wait until the client's cursor covers ``ver`` (the hub settles about once a second)."""
    await c.wait(lambda: coll in c.cursors and c.cursors[coll][1] >= ver, 15)
    return list(c.cursors[coll])


@pytest.mark.parametrize("skew", [-SKEW_S, SKEW_S], ids=["behind", "ahead"])
async def test_catchup_finds_writes_of_a_hub_whose_clock_is_off(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any, skew: int
) -> None:
    """A stamps with a clock ``skew`` seconds off, B with the right one. A client reading from B
    holds a cursor past the first write; the second comes from the hub with the slower clock. On
    reconnect its catch-up must bring it, as a snapshot would."""
    coll = fresh("skew")
    colls = {coll: {"cache": coll}}
    a, b = await asyncio.gather(
        hubs("a", ignite_addresses, colls, clock_skew_s=skew),
        hubs("b", ignite_addresses, colls),
    )
    fast, slow = (b, a) if skew < 0 else (a, b)
    w_fast, w_slow = await _client(clients, fast), await _client(clients, slow)
    reader = await _client(clients, b)
    await sub(reader, coll)
    first = (await w_fast.put(coll, "first", {"n": 1}))["ver"]
    await reader.wait(lambda: "first" in reader.docs(coll), 15)
    cursor = await _settled_past(reader, coll, first)
    await reader.close()

    second = await w_slow.put(coll, "second", {"n": 2})
    assert second["s"] == "ok"
    back = await _client(clients, b)
    synced = await sub(back, coll, cursor)
    assert synced["mode"] == "catchup"
    assert back.docs(coll).get("second") == {"n": 2}, "catch-up missed a write of the slow hub"
    # The slower hub knows and says so (log and metric).
    await wait_for(
        lambda: _skew_reported(slow),
        15,
    )


async def _skew_reported(hub: HubProcess) -> bool:
    return (await metrics(hub.http)).get("synchub_clock_skew_seconds", 0.0) > SKEW_S - 10


class _HeldCommit:
    """Wraps a store's transactions: the first commit waits for ``release`` (a hub stalled between
    stamping and committing: GC pause, a primary failing during commit)."""

    def __init__(self, store: IgniteStore) -> None:
        self.start = store.ctx.transaction
        self.reached = asyncio.Event()
        self.release = asyncio.Event()
        self.used = False
        store.ctx.transaction = self  # type: ignore[method-assign]

    def __call__(self) -> Any:
        return _HeldTx(self, self.start())


class _HeldTx:
    def __init__(self, gate: _HeldCommit, inner: Any) -> None:
        self.gate, self.inner = gate, inner

    async def __aenter__(self) -> _HeldTx:
        self.tx = await self.inner.__aenter__()  # the transaction itself (the context may wrap it)
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        return await self.inner.__aexit__(*exc)

    async def commit(self) -> Any:
        if not self.gate.used:
            self.gate.used = True
            self.gate.reached.set()
            await self.gate.release.wait()
        return await self.tx.commit()

    async def rollback(self) -> Any:
        return await self.tx.rollback()


async def test_catchup_finds_a_commit_held_past_the_overlap(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any
) -> None:
    """A write is stamped, then its commit waits 4 s; meanwhile another write commits and a client's
    cursor passes it. The held write must reach the client's next catch-up (before, with a 2 s
    overlap, it never did: its version stayed below the cursor minus the overlap)."""
    coll = fresh("held")
    hub = await hubs("b", ignite_addresses, {coll: {"cache": coll}}, catchup_overlap_ms=2_000)
    store = IgniteStore(ignite_addresses)
    await store.open()
    try:
        await store.ensure_collection(CollectionSpec(coll))
        gate = _HeldCommit(store)
        late = Mutation("stalled-writer", 1, coll, "late", "put", {"n": 0}, 1, None)
        held = asyncio.create_task(store.apply("stalled-writer", [late]))
        await asyncio.wait_for(gate.reached.wait(), 15)

        reader = await _client(clients, hub)
        await sub(reader, coll)
        await asyncio.sleep(3)  # the scenario: the commit is held longer than the overlap
        writer = await _client(clients, hub)
        ver = (await writer.put(coll, "b", {"n": 1}))["ver"]
        await reader.wait(lambda: "b" in reader.docs(coll), 15)
        cursor = await _settled_past(reader, coll, ver)
        await reader.close()

        gate.release.set()
        (result,) = await asyncio.wait_for(held, 30)
        assert result.s == "ok"
        back = await _client(clients, hub)
        synced = await sub(back, coll, cursor)
        assert synced["mode"] == "catchup"
        assert back.docs(coll).get("late") == {"n": 0}, "catch-up missed a commit held past the overlap"
        assert back.versions(coll)["late"] > cursor[1]
    finally:
        await store.close()


async def test_a_device_clock_hours_ahead_neither_wins_nor_locks(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any
) -> None:
    """A phone whose clock is 2 h ahead edits a document, then a correct device edits it: the later
    edit wins. The phone's clock is corrected from its hello (``now``); a client that sends no
    ``now`` is bounded to the hub's time, so it holds the document for at most a second."""
    coll = fresh("lww")
    hub = await hubs("h", ignite_addresses, {coll: {"cache": coll, "policy": "lww"}})
    two_hours = 2 * 3600 * 1000
    phone = await _client(clients, hub, clock_error_ms=two_hours)
    laptop = await _client(clients, hub)
    assert (await phone.put(coll, "x", {"by": "phone"}))["s"] == "ok"
    # The hub takes the phone's clock error from its hello, whose ``now`` is as old as the time the
    # hello took to be read (at most its round trip): an edit later than that must win. (Right after
    # the phone's, it lost once on a loaded CI box: a fresh hub read the hello late.)
    await asyncio.sleep(phone.hello_rtt_s)
    answer = await laptop.put(coll, "x", {"by": "laptop"})
    assert answer["s"] == "ok", f"an edit made after the phone's lost to it: {answer}"
    assert (await phone.put(coll, "x", {"by": "phone again"}))["s"] == "ok"

    # An old client (no ``now`` in hello) with the same error: bounded, not trusted.
    old = HubClient(hub.url, fresh("old"), clock_error_ms=two_hours)
    clients.append(old)
    await old.open()
    await old.send({"t": "hello", "v": [1], "client": old.client_id, "token": old.token})
    await old.wait(lambda: old.welcome is not None)
    assert (await old.put(coll, "y", {"by": "old"}))["s"] == "ok"
    await asyncio.sleep(1.5)  # the scenario: a correct device edits 1.5 s later
    answer = await laptop.put(coll, "y", {"by": "laptop"})
    assert answer["s"] == "ok", f"a device 2 h ahead held the document: {answer}"


@pytest.mark.parametrize("skew", [-SKEW_S, SKEW_S], ids=["behind", "ahead"])
async def test_last_writer_wins_across_hubs_whose_clocks_are_off(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any, skew: int
) -> None:
    """Two devices with correct clocks edit one document a moment apart, the first through a hub
    with a correct clock, the second through a hub whose clock is ``skew`` seconds off, then the
    other way round: the later edit wins each time. (Found by the chaos suite: the hub measured a
    device's clock error against its own wall clock, so behind a slow hub every device looked a
    minute ahead and its edits were moved a minute back: a delete lost to the put before it.)"""
    coll = fresh("lwwskew")
    colls = {coll: {"cache": coll, "policy": "lww"}}
    good, off = await asyncio.gather(
        hubs("good", ignite_addresses, colls),
        hubs("off", ignite_addresses, colls, clock_skew_s=skew),
    )
    # the hubs learn of each other's clocks through the versions they see (as in production)
    warm = await _client(clients, good)
    for i in range(3):
        await warm.put(coll, f"warm{i}", {"by": "warm"})
        await asyncio.sleep(0.5)
    await asyncio.sleep(SETTLE_WAIT_S)
    # browsers send their clock in hello (``now``): a 1 ms error makes the test client send it too
    first = await _client(clients, good, clock_error_ms=1)
    second = await _client(clients, off, clock_error_ms=1)
    await _edits_keep_their_order(coll, first, second, "d")
    # the same at once after the hub with the wrong clock restarted (before it settled anything)
    off.kill()
    await off.start()
    first = await _client(clients, good, clock_error_ms=1)
    second = await _client(clients, off, clock_error_ms=1)
    await _edits_keep_their_order(coll, first, second, "r")


async def _edits_keep_their_order(coll: str, first: HubClient, second: HubClient, tag: str) -> None:
    for n, (a, b) in enumerate(((first, second), (second, first))):
        doc = f"{tag}{n}"
        assert (await a.put(coll, doc, {"by": "earlier"}))["s"] == "ok"
        await asyncio.sleep(0.3)  # the scenario: the second edit is made 0.3 s later
        later = await b.put(coll, doc, {"by": "later"})
        assert later["s"] == "ok", f"edit {n}: the later edit lost to the earlier one: {later}"
        await asyncio.sleep(0.3)
        deleted = await a.delete(coll, doc)
        assert deleted["s"] == "ok", f"edit {n}: a delete made after the edits lost: {deleted}"


async def test_no_deletes_for_longer_than_retention_still_catches_up(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any
) -> None:
    """The tombstone floor rises only when tombstones are purged: a client whose cursor is older
    than the retention catches up (no snapshot) when nothing was deleted; once a delete newer than
    its cursor is purged, it gets a snapshot."""
    coll = fresh("ret")
    hub = await hubs(
        "h", ignite_addresses, {coll: {"cache": coll}}, tombstone_retention_ms=1_000, gc_interval_ms=500
    )
    writer = await _client(clients, hub)
    reader = await _client(clients, hub)
    await sub(reader, coll)
    ver = (await writer.put(coll, "a", {"n": 1}))["ver"]
    cursor = await _settled_past(reader, coll, ver)
    await reader.close()
    await asyncio.sleep(2.5)  # the scenario: the client stays away longer than the retention
    await writer.put(coll, "b", {"n": 2})
    back = await _client(clients, hub)
    synced = await sub(back, coll, cursor)
    assert synced["mode"] == "catchup" and not back.resyncs, back.resyncs
    assert back.docs(coll).get("b") == {"n": 2}

    cursor = list(back.cursors[coll])
    await back.close()
    await writer.delete(coll, "a")
    await asyncio.sleep(2.5)  # the tombstone of "a" is purged
    again = await _client(clients, hub)
    synced = await sub(again, coll, cursor)
    assert [r["reason"] for r in again.resyncs] == ["retention"] and synced["reset"] is True
    assert set(again.docs(coll)) == {"b"}


async def test_an_offline_edit_never_resurrects_a_purged_delete(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any, aio_client: Any
) -> None:
    """B edits a document offline; A deletes it afterwards; the tombstone is purged; B comes back and
    replays its edit. The delete was acknowledged and is newer: the edit must lose (before, with no
    trace of the document left, it was stored and the document came back)."""
    coll = fresh("res")
    hub = await hubs(
        "h", ignite_addresses, {coll: {"cache": coll}}, tombstone_retention_ms=1_000, gc_interval_ms=500
    )
    a, b = await _client(clients, hub), await _client(clients, hub)
    ver = (await a.put(coll, "x", {"n": 1}))["ver"]
    await sub(b, coll)
    assert b.versions(coll)["x"] == ver
    offline_edit = b.put_op(coll, "x", {"n": 2}, base=ver)  # made now, sent later
    await asyncio.sleep(0.05)
    assert (await a.delete(coll, "x"))["s"] == "ok"
    await asyncio.sleep(2.5)  # the scenario: B stays away until the tombstone is purged
    (res,) = await b.mut([offline_edit])
    assert res["s"] == "conflict" and res.get("doc") is None, res
    assert await (await aio_client.get_cache(coll)).get("x") is None, "a purged delete was undone"
    # a document created offline (no base) is still created, however old its edit
    created = b.put_op(coll, "fresh", {"n": 3})
    created["ts"] = 1 << 16
    (res,) = await b.mut([created])
    assert res["s"] == "ok"


async def test_reject_if_stale_recreates_a_document_whose_tombstone_was_purged(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any, aio_client: Any
) -> None:
    """Under reject-if-stale, B's offline edit of a document deleted (and purged) meanwhile is rejected
    with a version B can hold; B's next write, based on what it was told, re-creates the document.
    Before, the answer carried version 0, B kept its old base, and every later write was refused."""
    coll = fresh("rec")
    hub = await hubs(
        "h",
        ignite_addresses,
        {coll: {"cache": coll, "policy": "reject-if-stale"}},
        tombstone_retention_ms=1_000,
        gc_interval_ms=500,
    )
    a, b = await _client(clients, hub), await _client(clients, hub)
    ver = (await a.put(coll, "x", {"n": 1}))["ver"]
    offline_edit = b.put_op(coll, "x", {"n": 2}, base=ver)
    assert (await a.mut([a.del_op(coll, "x", base=ver)]))[0]["s"] == "ok"
    await asyncio.sleep(2.5)  # the tombstone of "x" is purged
    (res,) = await b.mut([offline_edit])
    assert res["s"] == "rejected" and res.get("doc") is None, res
    assert res["ver"] > ver, "the answer must carry a version above the one B held"
    (res,) = await b.mut([b.put_op(coll, "x", {"n": 3}, base=res["ver"])])
    assert res["s"] == "ok", res
    c = await _client(clients, hub)
    await sub(c, coll)
    assert c.docs(coll)["x"]["n"] == 3
