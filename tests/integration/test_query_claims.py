"""A named query subscription bound to a token claim (docs/sync-model.md §7) against a real Ignite:
a user gets their team's subset and nothing of another team's, whether asked through the named
subscription's parameters or a filter of their own (row rules apply on top); a refreshed token whose
claim binds another subset ends the subscription."""

from __future__ import annotations

import dataclasses

import pytest

from hub.core.query import parse_template
from tests.support.acl import config, fresh, hub_on_ignite, token
from tests.support.qclient import QueryClient

pytestmark = [pytest.mark.timeout(120), pytest.mark.asyncio(loop_scope="session")]

MARK = b"BLUE-SECRET"


async def test_a_claim_bound_subscription_cannot_read_another_teams_subset(
    ignite_addresses: list[tuple[str, int]],
) -> None:
    coll = fresh("qc")
    cfg = config(
        ignite_addresses,
        {
            coll: {
                "cache": coll,
                "fields": (("team", "string"), ("done", "bool")),
                "access": {
                    "row_filter": "tests.support.acl:team_only",
                    "write_check": "tests.support.acl:anyone_writes",
                },
            }
        },
    )
    mine = parse_template("mine", coll, [["team", "==", {"claim": "team"}], ["done", "==", False]])
    cfg = dataclasses.replace(cfg, subscriptions={coll: {"mine": mine}})
    async with hub_on_ignite(cfg) as run:
        blue = QueryClient(run.url, "blue-writer", token=token("bob", team="blue"))
        red = QueryClient(run.url, "red-reader", token=token("alice", team="red"))
        try:
            await blue.connect()
            await red.connect()
            for i in range(6):
                assert (await blue.put(coll, f"b{i}", {"team": "blue", "done": False, "t": MARK.decode()}))[
                    "s"
                ] == "ok"
                assert (await red.put(coll, f"r{i}", {"team": "red", "done": i == 0, "t": "red"}))[
                    "s"
                ] == "ok"
            got = await red.qsub(coll, 1, name="mine")
            assert got["t"] == "qsynced", got
            assert set(red.subset(1)) == {f"r{i}" for i in range(1, 6)}
            # parameters cannot stand in for the claim
            refused = await red.qsub(coll, 2, name="mine", params={"team": "blue"})
            assert (
                refused["t"] == "error" and refused["code"] == 4422 and "unknown parameters" in refused["msg"]
            )
            # a filter of one's own naming the other team: row rules still apply on top
            own = await red.qsub(coll, 3, filter={"team": "blue"})
            assert own["t"] == "qsynced" and red.subset(3) == {}
            # live: the other team's changes do not reach the subscription, the own team's do
            await blue.put(coll, "b0", {"team": "blue", "done": False, "t": MARK.decode() + "2"})
            await blue.put(coll, "r1", {"team": "red", "done": False, "t": "moved by blue"})
            await red.wait(lambda: red.subset(1).get("r1", {}).get("t") == "moved by blue", 15)
            await red.barrier()
            assert not any(MARK in frame for frame in red.raw), "a blue document reached the red reader"
            # the claim changes on refresh: the named subscription no longer binds the same subset
            await red.send({"t": "auth", "token": token("alice", team="blue")})
            await red.wait(lambda: any(m["t"] == "authed" for m in red.received), 10)
            ended = [m for m in red.received if m["t"] == "unsub" and m.get("query")]
            assert [(m["id"], m["code"]) for m in ended] == [(1, 4403)]
        finally:
            await blue.close()
            await red.close()
