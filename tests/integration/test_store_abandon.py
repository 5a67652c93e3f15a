"""A write transaction whose caller stops waiting is never torn (real Ignite).

A connection that closes cancels its batch; a store call that runs past its bound is given up. The
batch's transaction must then end whole, committed or rolled back, never half. Ignite's thin-client
server runs a request flagged with a transaction id that it no longer knows (rolled back, ended) as
an ordinary operation, outside any transaction. So a rollback sent while a request of the same
transaction is still in flight can let that request commit on its own: the document written, the
dedup record not, and the client's replay applied a second time (chaos quick schedule 1/26).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pyignite.api.tx_api import get_tx_connection  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes import ByteArrayObject  # type: ignore[import-untyped,unused-ignore]

from hub.core.conflict import MergeContext, Policy
from hub.core.errors import StoreUnavailable
from hub.core.types import CollectionSpec, Doc, Mutation
from hub.store.ignite import IgniteStore, write
from hub.store.ignite.tx import wall_ms
from hub.store.ignite.values import plain_doc

ROUNDS = 40


def ledger(current: Doc | None, incoming: Doc | None, ctx: MergeContext) -> Doc | None:
    """Each application appends the write's id: a write applied twice shows twice."""
    if incoming is None:
        return None
    log = list(current.get("log") or []) if current is not None else []
    return {"log": [*log, incoming["op"]]}


@pytest.fixture
async def store(ignite_addresses: list[tuple[str, int]]) -> AsyncIterator[IgniteStore]:
    s = IgniteStore(ignite_addresses)
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def store2(ignite_addresses: list[tuple[str, int]]) -> AsyncIterator[IgniteStore]:
    s = IgniteStore(ignite_addresses)
    await s.open()
    yield s
    await s.close()


@pytest.mark.timeout(300)
async def test_a_batch_whose_caller_is_cancelled_mid_request_is_applied_exactly_once(
    store: IgniteStore, store2: IgniteStore, cache_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = CollectionSpec(cache_name, policy=Policy.MERGE, merge=ledger)
    await store.ensure_collection(spec)
    await store2.ensure_collection(spec)
    data = store.coll(cache_name).data
    put_all = write.put_all
    in_flight = asyncio.Event()

    async def put_all_noted(cache: Any, items: Any) -> Any:
        request = put_all(cache, items)
        if cache is data:
            # the request is on the wire once the coroutine first waits: say so then
            asyncio.get_running_loop().call_soon(in_flight.set)
        return await request

    monkeypatch.setattr(write, "put_all", put_all_noted)  # the write path's putAll of documents
    twice: list[str] = []
    for i in range(ROUNDS):
        client = f"abandon-{cache_name}-{i}"
        m = Mutation(client, 1, cache_name, f"k{i}", "put", {"op": client}, wall_ms(), None)
        in_flight.clear()
        task = asyncio.create_task(store.apply(client, [m]))
        await in_flight.wait()
        task.cancel()  # the connection closed: the hub stops waiting for this batch
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # the client replays the unanswered write through another hub
        [replay] = await store2.apply(client, [m])
        stored = plain_doc(await store2.coll(cache_name).data.get(f"k{i}"))
        assert stored is not None, f"round {i}: the replay ({replay.s}) stored nothing"
        if stored["log"] != [client]:
            twice.append(f"round {i}: log {stored['log']}, replay answered {replay.s} dup={replay.dup}")
    assert not twice, f"{len(twice)} of {ROUNDS} writes applied twice: {twice[:3]}"


@pytest.mark.timeout(120)
async def test_a_transaction_whose_connection_was_reestablished_writes_nothing(store: IgniteStore) -> None:
    """pyignite re-opens a lost connection in the background; Ignite numbers transactions per
    connection from 1. A request of a transaction sent on the new socket ran outside any transaction
    (or inside another one with the same number). It must fail instead."""
    ctx = store.ctx
    key = f"reconnected-{uuid.uuid4().hex}"
    with contextlib.suppress(StoreUnavailable):
        await ctx.call(lambda: _write_across_a_reconnect(ctx, key))
    assert await ctx.dedup.get(key) is None


async def _write_across_a_reconnect(ctx: Any, key: str) -> None:
    async with ctx.transaction() as tx:
        conn = get_tx_connection()
        await ctx.dedup.get(key)
        lost = conn._transport
        lost.abort()  # the socket drops between two requests; pyignite reconnects on its own
        for _ in range(100):
            await asyncio.sleep(0.05)
            if conn.alive and conn._transport is not lost:
                break
        assert conn.alive and conn._transport is not lost, "pyignite did not reconnect"
        await ctx.dedup.put(key, b"outside", value_hint=ByteArrayObject)
        await tx.rollback()
