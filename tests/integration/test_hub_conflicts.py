"""Conflict policies end to end on two hub processes sharing one Ignite node: lww, reject-if-stale
and a merge hook, first deterministically, then with two clients on two hubs writing the same keys
concurrently (the final state must be the one the policy dictates, everywhere)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.integration.conftest import HubFactory, converge, fresh, ignite_docs, sub
from tests.support.hubproc import HubProcess
from tests.support.wsclient import HubClient

pytestmark = pytest.mark.asyncio(loop_scope="session")

KEYS = [f"k{i:02d}" for i in range(12)]
ROUNDS = 6


@pytest.fixture
async def two_hubs(hubs: HubFactory, ignite_addresses: Any) -> tuple[HubProcess, HubProcess, dict[str, str]]:
    names = {"lww": fresh("lww"), "stale": fresh("stale"), "merge": fresh("merge")}
    colls = {
        names["lww"]: {"cache": names["lww"], "policy": "lww"},
        names["stale"]: {"cache": names["stale"], "policy": "reject-if-stale"},
        names["merge"]: {"cache": names["merge"], "policy": "merge", "merge": "tests.support.hooks:counter"},
    }
    a, b = await asyncio.gather(hubs("a", ignite_addresses, colls), hubs("b", ignite_addresses, colls))
    return a, b, names


async def _clients(
    clients: list[HubClient], a: HubProcess, b: HubProcess, colls: list[str]
) -> tuple[HubClient, HubClient]:
    c1, c2 = HubClient(a.url, fresh("c1")), HubClient(b.url, fresh("c2"))
    clients.extend([c1, c2])
    for c in (c1, c2):
        await c.connect()
        for coll in colls:
            await sub(c, coll)
    return c1, c2


@pytest.mark.timeout(120)
async def test_policies_deterministic(
    two_hubs: tuple[HubProcess, HubProcess, dict[str, str]], clients: list[HubClient], aio_client: Any
) -> None:
    a, b, n = two_hubs
    c1, c2 = await _clients(clients, a, b, list(n.values()))

    # lww: the older ts loses, wherever it arrives and even if it arrives later
    older = c2.put_op(n["lww"], "doc", {"by": "c2"})
    newer = c1.put_op(n["lww"], "doc", {"by": "c1"})
    newer["ts"] = older["ts"] + (1 << 16)
    (r_new,) = await c1.mut([newer])
    assert r_new["s"] == "ok"
    (r_old,) = await c2.mut([older])
    assert r_old["s"] == "conflict" and r_old["doc"] == {"by": "c1"} and r_old["ver"] == r_new["ver"]
    # a newer delete wins over it
    (r_del,) = await c2.mut([c2.del_op(n["lww"], "doc")])
    assert r_del["s"] == "ok" and r_del["ver"] > r_new["ver"]

    # reject-if-stale: a stale base is rejected with the current document
    (s1,) = await c1.mut([c1.put_op(n["stale"], "s", {"x": 1}, base=0)])
    assert s1["s"] == "ok"
    (s2,) = await c2.mut([c2.put_op(n["stale"], "s", {"x": 2}, base=0)])
    assert s2["s"] == "rejected" and s2["doc"] == {"x": 1} and s2["ver"] == s1["ver"]
    (s3,) = await c2.mut([c2.put_op(n["stale"], "s", {"x": 3}, base=s1["ver"])])
    assert s3["s"] == "ok" and s3["ver"] > s1["ver"]
    (s4,) = await c1.mut([c1.del_op(n["stale"], "s", base=s1["ver"])])
    assert s4["s"] == "rejected" and s4["doc"] == {"x": 3} and s4["ver"] == s3["ver"]

    # merge hook: the stored document is the hook's result, reported as merged
    (m1,) = await c1.mut([c1.put_op(n["merge"], "m", {"inc": 5})])
    assert m1["s"] == "merged" and m1["doc"] == {"n": 5}
    (m2,) = await c2.mut([c2.put_op(n["merge"], "m", {"inc": 3})])
    assert m2["s"] == "merged" and m2["doc"] == {"n": 8} and m2["ver"] > m1["ver"]

    assert await ignite_docs(aio_client, n["lww"]) == {}
    assert await ignite_docs(aio_client, n["stale"]) == {"s": {"x": 3}}
    assert await ignite_docs(aio_client, n["merge"]) == {"m": {"n": 8}}
    for coll in n.values():
        await converge(aio_client, coll, [(c1, coll), (c2, coll)])


@pytest.mark.timeout(180)
async def test_concurrent_writers_on_two_hubs(
    two_hubs: tuple[HubProcess, HubProcess, dict[str, str]], clients: list[HubClient], aio_client: Any
) -> None:
    a, b, n = two_hubs
    c1, c2 = await _clients(clients, a, b, list(n.values()))
    lww_sent: list[tuple[int, str, dict[str, Any]]] = []
    stale_ok: dict[str, tuple[int, dict[str, Any] | None]] = {}
    incs = dict.fromkeys(KEYS, 0)

    async def run(c: HubClient, tag: str) -> None:
        for rnd in range(ROUNDS):
            lww = [
                c.del_op(n["lww"], k) if (rnd + i) % 5 == 4 else c.put_op(n["lww"], k, {"by": tag, "r": rnd})
                for i, k in enumerate(KEYS)
            ]
            known = c.versions(n["stale"])
            stale = [c.put_op(n["stale"], k, {"by": tag, "r": rnd}, base=known.get(k, 0)) for k in KEYS]
            merge = [c.put_op(n["merge"], k, {"inc": rnd + 1}) for k in KEYS]
            lww_sent.extend((m["ts"], c.client_id, m) for m in lww)
            res_lww = await c.mut(lww, 30)
            res_stale = await c.mut(stale, 30)
            res_merge = await c.mut(merge, 30)
            assert all(r["s"] in ("ok", "conflict") for r in res_lww), res_lww
            for m, r in zip(stale, res_stale, strict=True):
                assert r["s"] in ("ok", "rejected"), r
                if r["s"] == "ok" and r["ver"] > stale_ok.get(m["id"], (0, None))[0]:
                    stale_ok[m["id"]] = (r["ver"], m["doc"])
            for m, r in zip(merge, res_merge, strict=True):
                assert r["s"] == "merged" and not r.get("dup"), r
                incs[m["id"]] += m["doc"]["inc"]

    await asyncio.gather(run(c1, "c1"), run(c2, "c2"))

    # lww: per key the mutation with the greatest (ts, client) wins
    winner: dict[str, tuple[int, str, dict[str, Any]]] = {}
    for ts, client_id, m in lww_sent:
        if m["id"] not in winner or (ts, client_id) > winner[m["id"]][:2]:
            winner[m["id"]] = (ts, client_id, m)
    expected_lww = {k: m["doc"] for k, (_, _, m) in winner.items() if m["op"] == "put"}
    state = await converge(aio_client, n["lww"], [(c1, n["lww"]), (c2, n["lww"])])
    assert state == expected_lww

    # reject-if-stale: the last accepted write (highest version) of each key is what remains
    state = await converge(aio_client, n["stale"], [(c1, n["stale"]), (c2, n["stale"])])
    assert state == {k: doc for k, (_, doc) in stale_ok.items()}
    assert set(stale_ok) == set(KEYS)

    # merge: every increment counted exactly once
    state = await converge(aio_client, n["merge"], [(c1, n["merge"]), (c2, n["merge"])])
    assert state == {k: {"n": v} for k, v in incs.items()}
    assert all(v == 2 * sum(range(1, ROUNDS + 1)) for v in incs.values())
