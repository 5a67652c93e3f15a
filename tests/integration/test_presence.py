"""Rooms on the real stack: two hub processes on one Ignite node, raw protocol clients.

Members on both hubs see each other; broadcasts cross hubs and reach members only; room rules
refuse; oversized and too-frequent broadcasts are refused without disturbing anyone; a client
reconnecting within the grace period (to the other hub) does not flap; a SIGKILLed hub's members
leave the other hub's rooms (the bound is ttl + ttl / 3 + slack, docs/sync-model.md "Presence").
No assertion is about time: waits only bound how long a test may hang.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.integration.conftest import HubFactory, fresh
from tests.support.hubproc import HubProcess
from tests.support.wsclient import HubClient

pytestmark = pytest.mark.asyncio(loop_scope="session")

TTL_MS = 6000
GRACE_MS = 2000
ROOMS: dict[str, Any] = {
    "ttl_ms": TTL_MS,
    "grace_ms": GRACE_MS,
    "msg_bytes": 1024,
    "msg_rate": 0.5,
    "msg_burst": 3,
    "access": {
        "secret-": {"read": ["sub:alice"], "write": ["sub:alice"]},
        "quiet-": {"read": ["authenticated"], "write": ["sub:nobody"]},
    },
}
#: How long a dead hub's members may stay listed with TTL_MS (docs: ttl + ttl / 3, plus delivery).
DEAD_HUB_BOUND_S = (TTL_MS + TTL_MS // 3) / 1000 + 5


def frames(c: HubClient, t: str, room: str) -> list[dict[str, Any]]:
    return [m for m in c.received if m.get("t") == t and m.get("room") == room]


def ids(c: HubClient, t: str, room: str) -> list[str]:
    return [m["member"]["id"] if "member" in m else m["id"] for m in frames(c, t, room)]


def members(c: HubClient, room: str) -> dict[str, Any]:
    """The member list as ``c`` would keep it: the last snapshot, then the deltas after it."""
    out: dict[str, Any] = {}
    for m in c.received:
        if m.get("room") != room:
            continue
        if m["t"] == "members":
            out = {x["id"]: x["state"] for x in m["members"]}
        elif m["t"] in ("joined", "updated"):
            out[m["member"]["id"]] = m["member"]["state"]
        elif m["t"] == "left":
            out.pop(m["id"], None)
    return out


def room_errors(c: HubClient, room: str) -> list[int]:
    return [e["code"] for e in frames(c, "rerror", room)]


async def two_hubs(hubs: HubFactory, addresses: Any) -> tuple[HubProcess, HubProcess]:
    one = await hubs("one", addresses, {}, rooms=ROOMS)
    two = await hubs("two", addresses, {}, rooms=ROOMS)
    return one, two


async def client(url: str, clients: list[HubClient], token: str = "dev", cid: str | None = None) -> HubClient:
    c = HubClient(url, cid or fresh("p"), token)
    clients.append(c)
    welcome = await c.connect()
    assert "rooms" in welcome["features"]
    return c


@pytest.mark.timeout(180)
async def test_members_and_broadcasts_across_hubs(
    hubs: HubFactory, ignite_addresses: Any, clients: list[HubClient]
) -> None:
    one, two = await two_hubs(hubs, ignite_addresses)
    room, other_room = fresh("room"), fresh("room")
    a = await client(one.url, clients, "alice")
    b = await client(two.url, clients, "bob")
    outsider = await client(two.url, clients, "carol")

    await a.send({"t": "join", "room": room, "state": {"cursor": 1}})
    await a.wait(lambda: bool(frames(a, "members", room)))
    assert members(a, room) == {a.client_id: {"cursor": 1}}
    await b.send({"t": "join", "room": room, "state": {"cursor": 2}})
    await b.wait(lambda: bool(frames(b, "members", room)))
    # b's snapshot lists a (a member of the other hub) once a's entry reached hub two
    await b.wait(lambda: a.client_id in members(b, room), 20)
    await a.wait(lambda: b.client_id in members(a, room), 20)
    assert members(a, room) == members(b, room) == {a.client_id: {"cursor": 1}, b.client_id: {"cursor": 2}}
    joined = frames(a, "joined", room)
    assert [(j["member"]["id"], j["member"]["user"]) for j in joined] == [(b.client_id, "bob")]

    await b.send({"t": "pupdate", "room": room, "state": {"cursor": 3}})
    await a.wait(lambda: members(a, room).get(b.client_id) == {"cursor": 3}, 20)

    await outsider.send({"t": "join", "room": other_room, "state": None})
    await a.send({"t": "bcast", "room": room, "msg": {"typing": True}})
    await b.wait(lambda: bool(frames(b, "bcast", room)), 20)
    (got,) = frames(b, "bcast", room)
    assert got["from"] == a.client_id and got["user"] == "alice" and got["msg"] == {"typing": True}
    await outsider.barrier()  # the same hub fanned the event out to b: outsider got it by now or never
    assert [m for m in outsider.received if m.get("t") == "bcast"] == []
    assert frames(a, "bcast", room) == []  # the sender does not get its own broadcast back

    await b.send({"t": "leave", "room": room})
    await a.wait(lambda: b.client_id not in members(a, room), 20)
    assert ids(a, "left", room) == [b.client_id]


@pytest.mark.timeout(120)
async def test_room_rules_and_broadcast_limits(
    hubs: HubFactory, ignite_addresses: Any, clients: list[HubClient]
) -> None:
    one = await hubs("one", ignite_addresses, {}, rooms=ROOMS)
    secret, quiet, room = fresh("secret-"), fresh("quiet-"), fresh("room")
    alice = await client(one.url, clients, "alice")
    bob = await client(one.url, clients, "bob")

    await bob.send({"t": "join", "room": secret, "state": None})
    await bob.send({"t": "bcast", "room": secret, "msg": "x"})
    await bob.wait(lambda: len(room_errors(bob, secret)) == 2)
    assert room_errors(bob, secret) == [4403, 4409]  # may not join; not in the room
    await alice.send({"t": "join", "room": secret, "state": None})
    await alice.wait(lambda: bool(frames(alice, "members", secret)))
    assert room_errors(alice, secret) == []

    await alice.send({"t": "join", "room": quiet, "state": None})
    await alice.send({"t": "bcast", "room": quiet, "msg": "x"})
    await alice.wait(lambda: bool(room_errors(alice, quiet)))
    assert room_errors(alice, quiet) == [4403]  # may join, may not broadcast

    await alice.send({"t": "join", "room": room, "state": None})
    await bob.send({"t": "join", "room": room, "state": None})
    await alice.wait(lambda: bob.client_id in members(alice, room))
    await alice.send({"t": "bcast", "room": room, "msg": "x" * 2000})
    await alice.send({"t": "join", "room": room, "state": "s" * 5000})
    await alice.wait(lambda: len(room_errors(alice, room)) == 2)
    assert room_errors(alice, room) == [4413, 4413]  # message and state beyond the limits
    for i in range(6):  # burst 3, 0.5/s: some of these are dropped
        await alice.send({"t": "bcast", "room": room, "msg": i})
    await alice.barrier()
    limited = room_errors(alice, room).count(4529)
    assert limited >= 1
    await bob.barrier()
    got = [m["msg"] for m in frames(bob, "bcast", room)]
    assert len(got) == 6 - limited and got == sorted(got)
    # nobody was disconnected, and bob can still talk
    assert alice.close_code is None and bob.close_code is None
    await bob.send({"t": "bcast", "room": room, "msg": "still here"})
    await alice.wait(lambda: any(m["msg"] == "still here" for m in frames(alice, "bcast", room)))


@pytest.mark.timeout(180)
async def test_reconnect_within_grace_does_not_flap_and_grace_ends_in_leave(
    hubs: HubFactory, ignite_addresses: Any, clients: list[HubClient]
) -> None:
    one, two = await two_hubs(hubs, ignite_addresses)
    room = fresh("room")
    watcher = await client(one.url, clients, "w")
    await watcher.send({"t": "join", "room": room, "state": None})
    moving = await client(two.url, clients, "m")
    await moving.send({"t": "join", "room": room, "state": {"s": 1}})
    await watcher.wait(lambda: moving.client_id in members(watcher, room), 20)

    # the connection drops; the same client comes back on the other hub and joins again
    await moving.close()
    back = await client(one.url, clients, "m", cid=moving.client_id)
    await back.send({"t": "join", "room": room, "state": {"s": 1}})
    await back.wait(lambda: bool(frames(back, "members", room)))
    assert set(members(back, room)) == {watcher.client_id, moving.client_id}
    # past the grace period of the old connection (and a refresh round): no left, no second joined
    await asyncio.sleep(2 * GRACE_MS / 1000 + TTL_MS / 3000)
    await watcher.barrier()
    assert ids(watcher, "left", room) == []
    assert ids(watcher, "joined", room) == [moving.client_id]

    # now it goes for good: listed until the grace period ends, then left
    await back.close()
    await watcher.wait(lambda: moving.client_id not in members(watcher, room), 20)
    assert ids(watcher, "left", room) == [moving.client_id]


@pytest.mark.timeout(180)
async def test_members_of_a_killed_hub_leave(
    hubs: HubFactory, ignite_addresses: Any, clients: list[HubClient]
) -> None:
    one, two = await two_hubs(hubs, ignite_addresses)
    room = fresh("room")
    watcher = await client(one.url, clients, "w")
    await watcher.send({"t": "join", "room": room, "state": None})
    doomed = [await client(two.url, clients, f"d{i}") for i in range(3)]
    for d in doomed:
        await d.send({"t": "join", "room": room, "state": {"n": 1}})
    await watcher.wait(lambda: len(members(watcher, room)) == 4, 20)

    two.kill()  # SIGKILL: nothing is removed, the entries stop being refreshed
    await watcher.wait(lambda: len(members(watcher, room)) == 1, DEAD_HUB_BOUND_S)
    assert sorted(ids(watcher, "left", room)) == sorted(d.client_id for d in doomed)
    assert watcher.close_code is None


async def test_live_members_outlive_their_entries_ttl(
    hubs: HubFactory, ignite_addresses: Any, clients: list[HubClient]
) -> None:
    """Entries expire TTL after their last write unless their hub refreshes them; refreshes are
    spread over each third of the TTL (hub/core/presence.py RefreshRounds). Members held for more
    than two TTLs must never be seen leaving, on their hub or another."""
    one, two = await two_hubs(hubs, ignite_addresses)
    room = fresh("room")
    watcher = await client(one.url, clients, "w")
    await watcher.send({"t": "join", "room": room, "state": None})
    held = [await client(url, clients, f"m{i}") for i, url in enumerate([one.url, two.url] * 4)]
    for m in held:
        await m.send({"t": "join", "room": room, "state": {"n": 1}})
    await watcher.wait(lambda: len(members(watcher, room)) == 1 + len(held), 20)
    await asyncio.sleep(2 * TTL_MS / 1000 + 1)
    assert ids(watcher, "left", room) == []
    assert len(members(watcher, room)) == 1 + len(held)
    for m in held:  # each sees every other member too (its hub's table kept them all)
        assert len(members(m, room)) == 1 + len(held), m.client_id
