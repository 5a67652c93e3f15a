"""hub.server.mutations: the mutation worker over the memory store, without a socket."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from hub.auth.identity import Identity
from hub.authz import policy_from_config
from hub.core import messages as m
from hub.core.conflict import Policy
from hub.core.errors import StoreUnavailable
from hub.core.session import ApplyBatch
from hub.core.types import CollectionSpec, Mutation
from hub.metrics import HubMetrics
from hub.server.mutations import QUEUE_BATCHES, MutationWorker
from hub.store.memory import MemoryStore

ALICE = Identity("alice", {"sub": "alice", "roles": ["writer"]})


class Outlet:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None
        self.failed: BaseException | None = None

    def send_control(self, msg: dict[str, Any]) -> None:
        self.sent.append(msg)

    def request_close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def fail(self, exc: BaseException) -> None:
        self.failed = exc


def put(
    seq: int, coll: str = "todos", doc_id: str = "a", base: int | None = None, **doc: Any
) -> m.MutationIn:
    return m.MutationIn(seq, coll, doc_id, "put", {"x": seq, **doc}, seq, base)


async def worker(identity: Identity | None = ALICE) -> tuple[MutationWorker, MemoryStore, Outlet]:
    store = MemoryStore()
    await store.open()
    specs = {name: CollectionSpec(name) for name in ("todos", "locked", "box")}
    specs["strict"] = CollectionSpec("strict", policy=Policy.REJECT_IF_STALE)
    for spec in specs.values():
        await store.ensure_collection(spec)
    policy = policy_from_config(
        {
            "todos": {},
            "strict": {},
            "locked": {"access": {"write": ["role:admin"]}},
            "box": {"access": {"row_filter": "tests.support.acl:owner_only"}},
        }
    )
    outlet = Outlet()
    return MutationWorker(store, policy, HubMetrics(), specs, lambda: identity, outlet), store, outlet


async def test_batches_are_checked_applied_and_acked_in_order() -> None:
    w, store, outlet = await worker()
    assert w.idle()
    decided = m.error_result(9, 4404, "unknown collection 'nope'")
    await w.put(ApplyBatch("c1", (put(1), put(2, "locked"), decided)))
    assert not w.idle()  # the first put started the worker task
    while not outlet.sent:
        await asyncio.sleep(0.01)
    assert w.idle()
    (ack,) = outlet.sent
    assert ack["t"] == "ack"
    assert [(r["seq"], r["s"]) for r in ack["results"]] == [(1, "ok"), (2, "error"), (9, "error")]
    assert ack["results"][1]["code"] == 4403
    assert store.live_docs("todos") == {"a": {"x": 1}}
    await w.put(ApplyBatch("c1", (put(3),)))  # a later batch starts the worker again
    while len(outlet.sent) < 2:
        await asyncio.sleep(0.01)
    assert outlet.sent[1]["results"][0]["s"] == "ok" and w.stop() is None


async def test_without_an_identity_nothing_is_refused() -> None:
    w, _, _ = await worker(identity=None)
    batch = ApplyBatch("c1", (put(1, "locked"),))
    assert w.authorize(batch) is batch
    (result,) = await w.apply(batch)
    assert result["s"] == "ok"


async def test_a_full_queue_holds_the_reader_until_room_or_stop() -> None:
    w, store, outlet = await worker()
    gate = asyncio.Event()
    apply = store.apply

    async def held(client: str, muts: Any, **kw: Any) -> Any:
        await gate.wait()
        return await apply(client, muts, **kw)

    store.apply = held  # type: ignore[method-assign]
    await w.put(ApplyBatch("c1", (put(1),)))
    await asyncio.sleep(0.01)  # the worker took it and waits in the store
    for seq in range(2, 2 + QUEUE_BATCHES):
        await w.put(ApplyBatch("c2", (put(seq, doc_id=f"d{seq}"),)))
    blocked = asyncio.create_task(w.put(ApplyBatch("c3", (put(9, doc_id="z"),))))
    await asyncio.sleep(0.05)
    assert not blocked.done()  # QUEUE_BATCHES are waiting: the reader waits for room
    gate.set()
    await asyncio.wait_for(blocked, 5)  # the worker took the next ones: room again
    while len(outlet.sent) < 2 + QUEUE_BATCHES:
        await asyncio.sleep(0.01)
    assert [a["results"][0]["seq"] for a in outlet.sent][-1] == 9

    gate.clear()
    await w.put(ApplyBatch("c1", (put(10, doc_id="y"),)))
    await asyncio.sleep(0.01)
    for seq in range(11, 11 + QUEUE_BATCHES):
        await w.put(ApplyBatch("c2", (put(seq, doc_id=f"e{seq}"),)))
    blocked = asyncio.create_task(w.put(ApplyBatch("c3", (put(20, doc_id="x"),))))
    await asyncio.sleep(0.05)
    task = w.stop()  # the connection closes: the waiting reader is released, nothing more applied
    assert task is not None
    await asyncio.wait_for(blocked, 5)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert w.idle() and len(outlet.sent) == 2 + QUEUE_BATCHES


@pytest.mark.parametrize(
    ("error", "closed", "failed"),
    [(StoreUnavailable("down"), (4503, "down"), False), (RuntimeError("bug"), None, True)],
)
async def test_a_store_failure_ends_the_worker(error: Exception, closed: Any, failed: bool) -> None:
    w, store, outlet = await worker()

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise error

    store.apply = broken  # type: ignore[method-assign]
    await w.put(ApplyBatch("c1", (put(1),)))
    await w.put(ApplyBatch("c1", (put(2, doc_id="b"),)))
    while not w.stopped:
        await asyncio.sleep(0.01)
    assert w.idle() and outlet.sent == []  # the waiting batch was dropped with the failure
    assert outlet.closed == closed and (outlet.failed is error) == failed
    await w.put(ApplyBatch("c1", (put(3),)))  # the connection is closing: dropped, never applied
    assert w.idle() and w.stop() is None and outlet.sent == []


async def test_row_rules_replays_and_conflicts() -> None:
    w, _, _ = await worker()
    (theirs,) = await w.apply(ApplyBatch("c1", (put(1, "box", owner="bob"),)))
    assert (theirs["s"], theirs["code"]) == ("error", 4403)  # refused by the row rule
    (first,) = await w.apply(ApplyBatch("c1", (put(2, "strict", owner="bob"),)))
    (again,) = await w.apply(ApplyBatch("c1", (put(2, "strict", owner="bob"),)))
    assert first["s"] == again["s"] == "ok"  # the replay is answered from the dedup table
    (stale,) = await w.apply(ApplyBatch("c2", (put(1, "strict", base=1),)))
    assert stale["s"] == "rejected"
    rendered = w.metrics.render()
    assert "synchub_dedup_hits_total 1" in rendered
    assert 'synchub_conflicts_total{policy="reject-if-stale",outcome="rejected"} 1' in rendered


async def test_a_collection_another_hub_serves_is_retryable_one_none_serves_is_final() -> None:
    w, store, _ = await worker()
    await store.ensure_collection(CollectionSpec("newer"))  # opened by a newer hub, not by this one
    assert "newer" not in w.specs
    batch = ApplyBatch("c1", (put(1), put(2, "newer"), put(3, "nope"), put(4, "newer", "b")))
    results = await w.apply(w.authorize(batch))
    assert [(r["seq"], r["s"], r.get("code")) for r in results] == [
        (1, "ok", None),
        (2, "error", 4504),
        (3, "error", 4404),
        (4, "error", 4504),
    ]
    assert all("doc" not in r for r in results[1:])
    # not recorded: the same seq applies once a hub that serves the collection gets it
    (again,) = await store.apply("c1", [Mutation("c1", 2, "newer", "a", "put", {"x": 2}, 2, None)])
    assert again.s == "ok" and not again.dup
    assert store.live_docs("newer") == {"a": {"x": 2}}


async def test_waiting_batches_go_into_one_store_call_with_the_results_of_separate_ones() -> None:
    batches = [
        ApplyBatch("c1", (put(1), put(2, "strict", "s1"), put(3, "locked"))),
        ApplyBatch("c1", (put(2, "strict", "s1"), put(4, "strict", "s1", base=1), put(5, doc_id="b"))),
        ApplyBatch("c1", (m.error_result(6, 4404, "unknown collection 'nope'"), put(7, "box", owner="bob"))),
        ApplyBatch("c1", (put(1), put(8, doc_id="b"))),
    ]
    one, one_store, _ = await worker()
    expected = [await one.apply(b) for b in batches]  # one store call each

    w, store, outlet = await worker()
    calls: list[int] = []
    apply = store.apply

    async def counted(client: str, muts: Any, **kw: Any) -> Any:
        calls.append(len(muts))
        return await apply(client, muts, **kw)

    store.apply = counted  # type: ignore[method-assign]
    for b in batches:
        await w.put(b)  # all waiting when the worker task first runs (put does not yield)
    while len(outlet.sent) < len(batches):
        await asyncio.sleep(0.01)
    assert calls == [8]  # the 4 batches' store mutations (not the 2 refused before) in one call

    # one ack per batch, as if applied apart (versions come from the clock: compared by order)
    def shape(answers: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
        vers = sorted({r["ver"] for a in answers for r in a if r.get("ver")})
        return [[{**r, "ver": vers.index(r["ver"]) + 1 if r.get("ver") else 0} for r in a] for a in answers]

    assert shape([a["results"] for a in outlet.sent]) == shape(expected)
    assert store.live_docs("todos") == one_store.live_docs("todos") == {"a": {"x": 1}, "b": {"x": 8}}
    assert [r["s"] for r in expected[1]] == ["ok", "rejected", "ok"] and expected[3][0]["dup"]


async def test_a_batch_that_does_not_fit_the_merged_call_starts_the_next_one(monkeypatch: Any) -> None:
    monkeypatch.setattr("hub.server.mutations.MERGE_MUTATIONS", 3)
    batches = [
        ApplyBatch("c1", (put(1), put(2, doc_id="b"))),
        ApplyBatch("c1", (put(3), put(4, doc_id="b"))),  # 2 + 2 > 3: held over, applied next
        ApplyBatch("c1", (put(5, doc_id="c"),)),
    ]
    w, store, outlet = await worker()
    calls: list[list[int]] = []
    apply = store.apply

    async def counted(client: str, muts: Any, **kw: Any) -> Any:
        calls.append([mu.seq for mu in muts])
        return await apply(client, muts, **kw)

    store.apply = counted  # type: ignore[method-assign]
    for b in batches:
        await w.put(b)  # all waiting when the worker task first runs
    while len(outlet.sent) < len(batches):
        await asyncio.sleep(0.01)
    assert w.idle()
    assert calls == [[1, 2], [3, 4, 5]]
    assert [[r["seq"] for r in a["results"]] for a in outlet.sent] == [[1, 2], [3, 4], [5]]
    assert store.live_docs("todos") == {"a": {"x": 3}, "b": {"x": 4}, "c": {"x": 5}}
