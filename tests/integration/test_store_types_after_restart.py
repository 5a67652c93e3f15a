"""After the whole cluster restarted empty, a hub registers its binary types again before it writes,
even when another hub recreated the caches first (real Ignite).

Found while adding the cluster restart to the chaos suite. Documents and meta rows are written
pre-serialised with a compact footer, which needs the type's schema in the cluster. Each hub
registered a schema once and then trusted the cluster to keep it, but an in-memory cluster restarted
empty has lost every binary type. A hub forgot its registrations when it opened a collection again
after a lost feed; a hub whose feed had not reopened yet, writing into caches another hub had
already recreated, sent values of a schema the cluster did not know: each write waited for it
until it timed out (here: every attempt for 60 s, before the fix). Now a hub registers again as soon
as its client meets a node it has not met (``tx.NodeWatch``).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from pyignite import AioClient  # type: ignore[import-untyped,unused-ignore]

from hub.core.errors import StoreUnavailable
from hub.core.types import CollectionSpec, Mutation
from hub.store.ignite import IgniteStore
from hub.store.ignite.tx import wall_ms
from tests.conftest import running_cluster
from tests.integration.conftest import ignite_docs


def put(client: str, seq: int, coll: str, doc_id: str, doc: dict[str, Any]) -> Mutation:
    return Mutation(client, seq, coll, doc_id, "put", doc, wall_ms(), None)


async def _apply_until_ok(store: IgniteStore, m: Mutation) -> None:
    """The store's first requests after the restart may meet dead connections: retry as a client would."""
    deadline = time.monotonic() + 60
    while True:
        try:
            (r,) = await store.apply(m.client, [m])
            assert r.s == "ok", r
            return
        except StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


@pytest.mark.timeout(240)
async def test_a_hub_registers_its_types_again_in_a_cluster_restarted_empty(tmp_path: Path) -> None:
    coll = "types_restart"
    spec = CollectionSpec(coll)
    with running_cluster(tmp_path / "ignite", "types-restart", nodes=1, backups=0) as cluster:
        addresses = list(cluster.addresses)
        a, b = IgniteStore(addresses), IgniteStore(addresses)
        await a.open()
        await b.open()
        try:
            await a.ensure_collection(spec)
            await b.ensure_collection(spec)
            await _apply_until_ok(b, put("bob", 1, coll, "before", {"v": 1, "w": "x"}))

            await asyncio.to_thread(cluster.stop)
            await asyncio.to_thread(cluster.start)  # in memory: no cache, no document, no binary type
            # hub A's feed noticed first: it recreated the caches (and forgot its own registrations);
            # hub B writes before its own feed reopens, with a document of the schema it registered
            await a.ensure_collection(spec)
            await _apply_until_ok(b, put("bob", 2, coll, "after", {"v": 2, "w": "y"}))

            reader = AioClient()
            await reader.connect(addresses)
            try:
                # another application reads it: it needs the schema from the cluster
                docs = await ignite_docs(reader, coll)
            finally:
                await reader.close()
            assert docs == {"after": {"v": 2, "w": "y"}}
        finally:
            await a.close()
            await b.close()
