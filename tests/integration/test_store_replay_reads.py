"""A replayed mutation is answered with a document and a version of one stored state (real Ignite).

Found by the chaos suite (schedule 1/24 of a fresh-clone run): a client's connection was torn while its
batch committed; on the next connection the replay was answered ``dup`` with the version another
client's write had just stamped but the document as it was before that write. The client stored that
version with the older document and, holding the version, ignored the newer write when it came: its
replica kept the older document for good. Cause: the data row and the meta row are read at the same
time in the batch's transaction, and a batch made only of replays was rolled back instead of
committed, so Ignite never checked that nothing it read had changed; a write that committed between
the two reads went unnoticed. Here that write is made to land exactly between them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hub.core.types import CollectionSpec, Mutation
from hub.store.ignite import IgniteStore, write
from hub.store.ignite.schema import meta_cache_name
from hub.store.ignite.tx import wall_ms


@pytest.fixture
async def stores(ignite_addresses: list[tuple[str, int]]) -> AsyncIterator[tuple[IgniteStore, IgniteStore]]:
    a, b = IgniteStore(ignite_addresses), IgniteStore(ignite_addresses)
    await a.open()
    await b.open()
    yield a, b
    await a.close()
    await b.close()


def put(client: str, seq: int, coll: str, doc: dict[str, Any]) -> Mutation:
    return Mutation(client, seq, coll, "d", "put", doc, wall_ms(), None)


@pytest.mark.timeout(120)
async def test_a_write_between_the_reads_of_a_replay_does_not_tear_its_answer(
    stores: tuple[IgniteStore, IgniteStore], cache_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = stores
    spec = CollectionSpec(cache_name)
    await a.ensure_collection(spec)
    await b.ensure_collection(spec)
    (first,) = await a.apply("alice", [put("alice", 1, cache_name, {"v": 1})])
    assert first.s == "ok"

    real = write.fast_get_all
    data_read = asyncio.Event()
    other: list[Any] = []
    interleaved = False

    async def get_all(cache: Any, keys: Any) -> Any:
        nonlocal interleaved
        if interleaved:  # carol's own reads, and the replay's retries
            return await real(cache, keys)
        if cache.name == meta_cache_name(cache_name):
            # the meta row of the replay's document: carol's write commits after the data row was read
            await data_read.wait()
            interleaved = True
            other.extend(await b.apply("carol", [put("carol", 1, cache_name, {"v": 2})]))
            return await real(cache, keys)
        found = await real(cache, keys)
        data_read.set()
        return found

    monkeypatch.setattr(write, "fast_get_all", get_all)
    (answer,) = await a.apply("alice", [put("alice", 1, cache_name, {"v": 1})])
    monkeypatch.undo()

    assert other and other[0].s == "ok"
    newest = other[0]
    assert answer.dup
    # the answer is one stored state: carol's (the document now), never carol's version with alice's document
    assert (answer.ver, answer.doc) == (newest.ver, {"v": 2}), (answer, newest)
