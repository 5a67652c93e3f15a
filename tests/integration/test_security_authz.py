"""Authorisation against a real hub (uvicorn + Ignite): docs/security.md §4.

A read-forbidden document must never reach a client: not by snapshot, live push, catch-up,
resync, nor inside a conflict answer. Every test checks the raw frames for the document's
marker, not only the client model.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pyignite import AioClient

from tests.support.acl import config, connected, fresh, hub_on_ignite, token

pytestmark = pytest.mark.timeout(120)

MARK = b"ALICE-SECRET"


def leaked(raw: list[bytes]) -> bool:
    return any(MARK in frame for frame in raw)


async def cache_get(addresses: list[tuple[str, int]], cache: str, key: str) -> Any:
    client = AioClient()
    await client.connect(addresses)
    try:
        return await (await client.get_cache(cache)).get(key)
    finally:
        await client.close()


async def test_read_forbidden_documents_never_reach_the_client(
    ignite_addresses: list[tuple[str, int]],
) -> None:
    notes, box = fresh("notes"), fresh("box")
    colls: dict[str, Any] = {
        notes: {"access": {"row_filter": "tests.support.acl:owner_only"}},
        # a drop box: anyone may write (so conflicts happen on documents one cannot read)
        box: {
            "access": {
                "row_filter": "tests.support.acl:owner_only",
                "write_check": "tests.support.acl:anyone_writes",
            }
        },
    }
    async with hub_on_ignite(config(ignite_addresses, colls)) as run:
        async with (
            connected(run.url, token("alice")) as alice,
            connected(run.url, token("bob"), "bobs-browser") as bob,
        ):
            for doc_id in ("a1", "a2"):
                res = await alice.put(notes, doc_id, {"owner": "alice", "text": MARK.decode()})
                assert res["s"] == "ok"
            assert (await bob.put(notes, "b1", {"owner": "bob", "text": "mine"}))["s"] == "ok"

            # snapshot: only bob's own document
            await bob.sub(notes)
            assert set(bob.docs(notes)) == {"b1"}
            await bob.sub(box)

            # live push: alice's new and changed documents do not reach bob
            await alice.put(notes, "a3", {"owner": "alice", "text": MARK.decode()})
            await alice.put(notes, "a1", {"owner": "alice", "text": MARK.decode() + "2"})
            await bob.put(notes, "b0", {"owner": "bob", "text": "mine too"})
            await bob.wait(lambda: "b0" in bob.docs(notes))
            assert set(bob.docs(notes)) == {"b1", "b0"}
            cursor = bob.cursors[notes]

            # in the drop box alice gives bob a document, then takes it back: a tombstone
            await alice.put(box, "shared", {"owner": "bob", "text": "for bob"})
            await bob.wait(lambda: "shared" in bob.docs(box))
            await alice.put(box, "shared", {"owner": "alice", "text": MARK.decode()})
            await bob.wait(lambda: bob.models[box].get("shared", (0, {}))[1] is None)

            # conflict answer: bob overwrites alice's drop-box document with an old clock
            await alice.put(box, "x", {"owner": "alice", "text": MARK.decode()})
            stale = bob.put_op(box, "x", {"owner": "bob", "text": "late"})
            stale["ts"] = 1
            (res,) = await bob.mut([stale])
            assert res["s"] == "conflict" and res["doc"] is None and res["ver"] > 0
            assert not leaked(bob.raw)

        # catch-up from a cursor, after more of alice's writes
        async with connected(run.url, token("alice")) as alice, connected(run.url, token("bob")) as bob2:
            await alice.put(notes, "a4", {"owner": "alice", "text": MARK.decode()})
            await bob2.put(notes, "b2", {"owner": "bob", "text": "new for bob"})
        async with connected(run.url, token("bob"), "bobs-browser") as bob:
            synced = await bob.sub(notes, cursor)
            assert synced["mode"] == "catchup"
            assert "b2" in bob.docs(notes) and "a4" not in bob.docs(notes)
            # resync: a refresh whose claims changed re-sends a filtered snapshot
            await bob.send({"t": "auth", "token": token("bob", team="blue")})
            await bob.wait(lambda: any(r["t"] == "authed" for r in bob.received))
            assert {"t": "resync", "coll": notes, "reason": "auth", "mode": "snapshot"} in bob.received
            await bob.wait(lambda: len(bob.synced.get(notes, [])) == 2)
            assert set(bob.docs(notes)) == {"b0", "b1", "b2"}
            assert not leaked(bob.raw)


async def test_write_forbidden_mutations_store_nothing(ignite_addresses: list[tuple[str, int]]) -> None:
    notes, ro = fresh("notes"), fresh("ro")
    colls: dict[str, Any] = {
        notes: {"access": {"row_filter": "tests.support.acl:owner_only"}},
        ro: {"access": {"read": ["authenticated"], "write": ["role:editor"]}},
    }
    async with hub_on_ignite(config(ignite_addresses, colls)) as run:
        async with connected(run.url, token("alice")) as alice, connected(run.url, token("bob")) as bob:
            assert (await alice.put(notes, "a1", {"owner": "alice", "v": 1}))["s"] == "ok"
            # collection-level: bob is no editor
            res = await bob.put(ro, "r1", {"v": 1})
            assert res == {"seq": res["seq"], "s": "error", "ver": 0, "code": 4403, "msg": "forbidden"}
            # row-level, decided in the store transaction: overwrite / delete / give away
            batch = [
                bob.put_op(notes, "a1", {"owner": "bob", "v": 2}),
                bob.del_op(notes, "a1"),
                bob.put_op(notes, "gift", {"owner": "alice", "v": 3}),
                bob.put_op(notes, "b1", {"owner": "bob", "v": 4}),  # allowed
            ]
            results = await bob.mut(batch)
            assert [r["s"] for r in results] == ["error", "error", "error", "ok"]
            assert all(r["code"] == 4403 and "doc" not in r for r in results[:3])
            # the refusal is final: a replay gets the same answer from the dedup record
            replay = await bob.mut(batch[:1])
            assert replay[0]["s"] == "error" and replay[0]["code"] == 4403 and replay[0].get("dup")
        stored = await cache_get(ignite_addresses, notes, "a1")
        assert stored is not None and stored.owner == "alice" and stored.v == 1
        assert await cache_get(ignite_addresses, notes, "gift") is None
        assert await cache_get(ignite_addresses, ro, "r1") is None


async def test_sub_needs_read_permission(ignite_addresses: list[tuple[str, int]]) -> None:
    secret = fresh()
    colls: dict[str, Any] = {secret: {"access": {"read": ["sub:alice"], "write": ["sub:alice"]}}}
    async with hub_on_ignite(config(ignite_addresses, colls)) as run:
        async with connected(run.url, token("alice")) as alice, connected(run.url, token("bob")) as bob:
            await alice.put(secret, "s", {"text": MARK.decode()})
            await bob.sub(secret, wait=False)
            await bob.wait(lambda: bool(bob.errors))
            assert bob.errors[0] == {"t": "error", "code": 4403, "msg": "forbidden", "ref": 1}
            await alice.put(secret, "s2", {"text": MARK.decode()})
            await asyncio.sleep(0.3)
            assert not leaked(bob.raw) and bob.close_code is None


async def test_page_total_does_not_reveal_what_a_user_cannot_read(
    ignite_addresses: list[tuple[str, int]],
) -> None:
    notes = fresh("notes")
    colls: dict[str, Any] = {notes: {"access": {"row_filter": "tests.support.acl:owner_only"}}}
    async with hub_on_ignite(config(ignite_addresses, colls)) as run:
        async with connected(run.url, token("alice")) as alice, connected(run.url, token("bob")) as bob:
            for i in range(7):
                assert (await alice.put(notes, f"a{i}", {"owner": "alice"}))["s"] == "ok"
            assert (await bob.put(notes, "b1", {"owner": "bob"}))["s"] == "ok"
            await bob.sub(notes)
            pages = [m for m in bob.received if m["t"] == "page"]
            assert pages and set(bob.docs(notes)) == {"b1"}
            assert all(p["total"] is None for p in pages), [p["total"] for p in pages]


async def test_a_client_id_cannot_be_poisoned_by_another_user(
    ignite_addresses: list[tuple[str, int]],
) -> None:
    """Client ids are not secret. Bob, knowing Alice's, sends a forged huge ``seq`` under it; Alice's
    next write must still be applied (before, it was answered ``dup`` and never stored)."""
    notes = fresh("notes")
    async with hub_on_ignite(config(ignite_addresses, {notes: {}})) as run:
        async with connected(run.url, token("alice"), "alices-phone") as alice:
            assert (await alice.put(notes, "a1", {"n": 1}))["s"] == "ok"
            alice_seq = alice.seq
        async with connected(run.url, token("bob"), "alices-phone") as bob:
            forged = bob.put_op(notes, "b1", {"n": 666})
            forged["seq"] = 2**40
            (res,) = await bob.mut([forged])
            assert res["s"] == "ok"
        async with connected(run.url, token("alice"), "alices-phone") as alice:
            alice.seq = alice_seq
            (res,) = await alice.mut([alice.put_op(notes, "a2", {"n": 2})])
            assert res["s"] == "ok" and not res.get("dup"), res
            assert await cache_get(ignite_addresses, notes, "a2") is not None


async def test_reconnecting_with_other_claims_resyncs_what_the_user_may_read(
    ignite_addresses: list[tuple[str, int]],
) -> None:
    """Bob syncs as a member of team red and leaves with his cursor; he comes back (same browser,
    same client id) with a token for team blue. Nothing changed in the collection since: a
    catch-up would keep red's documents and never send blue's. He must get what blue may read."""
    tasks = fresh("tasks")
    colls: dict[str, Any] = {tasks: {"access": {"row_filter": "tests.support.acl:team_only"}}}
    async with hub_on_ignite(config(ignite_addresses, colls)) as run:
        async with connected(run.url, token("admin", team="red")) as red:
            for i in range(3):
                assert (await red.put(tasks, f"r{i}", {"team": "red"}))["s"] == "ok"
        async with connected(run.url, token("admin", team="blue")) as blue:
            assert (await blue.put(tasks, "b0", {"team": "blue"}))["s"] == "ok"
        async with connected(run.url, token("bob", team="red"), "bobs-laptop") as bob:
            await bob.sub(tasks)
            assert set(bob.docs(tasks)) == {"r0", "r1", "r2"}
            cursor, held = bob.cursors[tasks], dict(bob.models[tasks])
        async with connected(run.url, token("bob", team="blue"), "bobs-laptop") as bob:
            bob.models[tasks] = held  # what the browser kept
            synced = await bob.sub(tasks, cursor)
            assert [r["reason"] for r in bob.resyncs] == ["auth"] and synced["reset"] is True
            assert set(bob.docs(tasks)) == {"b0"}
        async with connected(run.url, token("bob", team="blue"), "bobs-laptop") as bob:
            bob.models[tasks] = {}
            synced = await bob.sub(tasks, synced["cursor"])
            assert synced["mode"] == "catchup" and not bob.resyncs, "same claims: a plain catch-up"


async def test_a_claims_change_cut_short_still_resyncs_on_the_next_connection(
    ignite_addresses: list[tuple[str, int]],
) -> None:
    """Bob comes back with a token for team blue; the hub resyncs him, records that his cursors are
    now blue's, and sends the snapshot and its cursor, but the browser dies before storing it: it
    still holds the cursor it had under red. Coming back with that cursor, he must get blue's
    snapshot again, not a catch-up (found by the chaos suite: a document of his new team never
    arrived)."""
    tasks = fresh("tasks")
    colls: dict[str, Any] = {tasks: {"access": {"row_filter": "tests.support.acl:team_only"}}}
    async with hub_on_ignite(config(ignite_addresses, colls)) as run:
        async with connected(run.url, token("admin", team="red")) as red:
            assert (await red.put(tasks, "r0", {"team": "red"}))["s"] == "ok"
        async with connected(run.url, token("admin", team="blue")) as blue:
            assert (await blue.put(tasks, "b0", {"team": "blue"}))["s"] == "ok"
        async with connected(run.url, token("bob", team="red"), "bobs-tablet") as bob:
            await bob.sub(tasks)
            assert set(bob.docs(tasks)) == {"r0"}
            cursor, held = bob.cursors[tasks], dict(bob.models[tasks])
        async with connected(run.url, token("bob", team="blue"), "bobs-tablet") as bob:
            bob.models[tasks] = dict(held)
            synced = await bob.sub(tasks, cursor)
            assert synced["reset"] is True and set(bob.docs(tasks)) == {"b0"}
            # ... and the browser dies before it stores ``synced["cursor"]``
        async with connected(run.url, token("bob", team="blue"), "bobs-tablet") as bob:
            bob.models[tasks] = dict(held)
            synced = await bob.sub(tasks, cursor)
            assert [r["reason"] for r in bob.resyncs] == ["auth"], "a catch-up from red's cursor"
            assert synced["reset"] is True and set(bob.docs(tasks)) == {"b0"}
        async with connected(run.url, token("bob", team="blue"), "bobs-tablet") as bob:
            bob.models[tasks] = {}
            later = await bob.sub(tasks, synced["cursor"])
            assert later["mode"] == "catchup" and not bob.resyncs, "the cursor of blue's snapshot: a catch-up"
