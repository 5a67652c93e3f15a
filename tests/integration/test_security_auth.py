"""Authentication against a real hub (uvicorn + Ignite): docs/security.md §2."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path
from typing import Any

import jwt
import pytest

from hub.core.errors import CloseCode
from hub.rooms import parse_rooms
from tests.support.acl import (
    SECRET,
    Keys,
    config,
    connected,
    fresh,
    hub_on_ignite,
    jwt_auth,
    metrics,
    token,
)
from tests.support.wsclient import HubClient

pytestmark = pytest.mark.timeout(120)


async def refused(url: str, tok: str | None, *, path: str = "") -> tuple[int, str]:
    c = HubClient(url + path, token=tok)
    await c.open()
    await c.send({"t": "hello", "v": [1], "client": c.client_id, "token": tok})
    code = await c.wait_closed()
    await c.close()
    assert c.welcome is None
    return code, c.close_reason


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


async def test_jwt_algorithms_forged_and_expired_tokens(
    ignite_addresses: list[tuple[str, int]], tmp_path: Path, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    coll = fresh()
    auth = jwt_auth(algorithms=["HS256", "RS256", "ES256"], jwks_file=keys.write_jwks(tmp_path / "jwks.json"))
    async with hub_on_ignite(config(ignite_addresses, {coll: {}}, auth=auth)) as run:
        # HS256 (secret), RS256 and ES256 (JWKS file) are accepted
        for alg in ("HS256", "RS256", "ES256"):
            async with connected(run.url, token("alice", alg=alg, keys=keys)) as c:
                assert c.welcome is not None
        # forged: signed with another secret / with the RSA key but claiming another kid / alg none
        forged = jwt.encode({"sub": "alice", "exp": 2**31, "aud": "synchub"}, "x" * 40, algorithm="HS256")
        assert await refused(run.url, forged) == (CloseCode.UNAUTHORIZED, "bad_signature")
        unsigned = jwt.encode({"sub": "alice", "exp": 2**31, "aud": "synchub"}, None, algorithm="none")
        assert await refused(run.url, unsigned) == (CloseCode.UNAUTHORIZED, "malformed")
        tampered = token("alice").rsplit(".", 1)[0] + "." + token("mallory").rsplit(".", 1)[1]
        assert await refused(run.url, tampered) == (CloseCode.UNAUTHORIZED, "bad_signature")
        assert await refused(run.url, token("alice", aud="other")) == (
            CloseCode.UNAUTHORIZED,
            "wrong_audience",
        )
        # expired at hello: 4511 (retry with a fresh token)
        assert await refused(run.url, token("alice", ttl=-5)) == (CloseCode.TOKEN_EXPIRED, "expired")
        # never in the URL: a token in the query string is ignored
        good = token("alice")
        assert await refused(run.url, None, path=f"?token={good}") == (CloseCode.UNAUTHORIZED, "missing")
        m = await metrics(run.http)
        assert m['synchub_auth_failures_total{reason="bad_signature"}'] == 2
        assert m['synchub_auth_failures_total{reason="expired"}'] == 1
        assert m['synchub_auth_failures_total{reason="missing"}'] == 1
    # the log never holds a token
    for tok in (forged, tampered, good):
        assert tok not in caplog.text
        assert tok.split(".")[2] not in caplog.text


async def test_expiry_enforced_on_a_live_connection(ignite_addresses: list[tuple[str, int]]) -> None:
    coll = fresh()
    async with hub_on_ignite(config(ignite_addresses, {coll: {}})) as run:
        async with connected(run.url, token("alice", ttl=1.5)) as c:
            await c.sub(coll)
            assert await c.wait_closed(6) == CloseCode.TOKEN_EXPIRED
            assert c.close_reason == "expired"


async def test_expired_then_refreshed_token_keeps_the_connection(
    ignite_addresses: list[tuple[str, int]],
) -> None:
    coll = fresh()
    async with hub_on_ignite(config(ignite_addresses, {coll: {}})) as run:
        async with connected(run.url, token("alice", ttl=2)) as c, connected(run.url, token("bob")) as w:
            await c.sub(coll)
            # a bad refresh is answered with error 4010; the old token stays in force
            await c.send({"t": "auth", "token": token("alice", ttl=-1)})
            await c.wait(lambda: any(e["code"] == 4010 for e in c.errors))
            assert c.errors[-1]["msg"] == "expired" and c.close_code is None
            fresh_token = token("alice", ttl=120)
            await c.send({"t": "auth", "token": fresh_token})
            await c.wait(lambda: any(r["t"] == "authed" for r in c.received))
            authed = next(r for r in c.received if r["t"] == "authed")
            assert authed["exp"] == jwt.decode(fresh_token, SECRET, ["HS256"], audience="synchub")["exp"]
            await asyncio.sleep(3)  # past the first token's expiry
            assert c.close_code is None
            await w.put(coll, "d1", {"v": 1})
            await c.wait(lambda: "d1" in c.docs(coll))  # still live
        # a refresh naming another user closes the connection
        async with connected(run.url, token("alice")) as c:
            await c.send({"t": "auth", "token": token("mallory")})
            assert await c.wait_closed() == CloseCode.UNAUTHORIZED
            assert c.close_reason == "subject_changed"


async def test_refresh_that_removes_a_permission_ends_the_subscription(
    ignite_addresses: list[tuple[str, int]],
) -> None:
    secret, public = fresh(), fresh()
    colls: dict[str, Any] = {
        secret: {"access": {"read": ["role:reader"], "write": ["role:writer"]}},
        public: {},
    }
    async with hub_on_ignite(config(ignite_addresses, colls)) as run:
        async with (
            connected(run.url, token("alice", roles=["reader"])) as c,
            connected(run.url, token("w", roles=["writer"])) as w,
        ):
            synced = await c.sub(secret)
            await c.sub(public)
            await w.put(secret, "s1", {"v": 1})
            await c.wait(lambda: "s1" in c.docs(secret))
            await c.send({"t": "auth", "token": token("alice", roles=[])})
            await c.wait(lambda: any(r["t"] == "authed" for r in c.received))
            kinds = [r["t"] for r in c.received]
            unsub = next(r for r in c.received if r["t"] == "unsub")
            assert kinds.index("unsub") < kinds.index("authed")  # authed comes last
            assert unsub == {
                "t": "unsub",
                "coll": secret,
                "id": synced["id"],
                "code": 4403,
                "msg": "forbidden",
            }
            before = len(c.received)
            await w.put(secret, "s2", {"v": 2})
            await w.put(public, "p1", {"v": 1})
            await c.wait(lambda: "p1" in c.docs(public))  # other subscriptions continue
            await asyncio.sleep(0.5)
            assert not any(r.get("coll") == secret for r in c.received[before:])
            # and a new sub is refused
            await c.sub(secret, wait=False)
            await c.wait(lambda: any(e["code"] == 4403 for e in c.errors))
            assert c.close_code is None


def listed(c: HubClient, room: str) -> set[str]:
    """The member ids ``c`` holds for ``room``: its last snapshot, then the deltas after it."""
    out: set[str] = set()
    for r in c.received:
        if r.get("room") != room:
            continue
        if r["t"] == "members":
            out = {m["id"] for m in r["members"]}
        elif r["t"] == "joined":
            out.add(r["member"]["id"])
        elif r["t"] == "left":
            out.discard(r["id"])
    return out


async def test_refresh_that_removes_a_permission_leaves_the_room(
    ignite_addresses: list[tuple[str, int]],
) -> None:
    """Rooms follow the claims like collections: after an ``auth`` refresh without the role, the
    member leaves the room (the others see ``left``) and is told 4403; other rooms stay joined."""
    staff, lobby = fresh("staff-"), fresh("lobby-")
    cfg = config(ignite_addresses, {})
    rules = {"staff-": {"read": ["role:staff"], "write": ["role:staff"]}}
    rooms = parse_rooms({"access": rules}, roles_claim="roles")
    cfg = dataclasses.replace(cfg, rooms=rooms)
    async with (
        hub_on_ignite(cfg) as run,
        connected(run.url, token("alice", roles=["staff"])) as a,
        connected(run.url, token("bob", roles=["staff"])) as b,
    ):
        for c in (a, b):
            for room in (staff, lobby):
                await c.send({"t": "join", "room": room, "state": None})
        await b.wait(lambda: a.client_id in listed(b, staff) and a.client_id in listed(b, lobby))
        await a.send({"t": "auth", "token": token("alice", roles=[])})
        await a.wait(lambda: any(r["t"] == "authed" for r in a.received))
        assert [(r["room"], r["code"]) for r in a.received if r["t"] == "rerror"] == [(staff, 4403)]
        await b.wait(lambda: a.client_id not in listed(b, staff), timeout=15)
        # still in the lobby: a broadcast there reaches bob; in the staff room alice is not a member
        await a.send({"t": "bcast", "room": lobby, "msg": "hi"})
        await a.send({"t": "bcast", "room": staff, "msg": "no"})
        await b.wait(lambda: any(r["t"] == "bcast" and r["room"] == lobby for r in b.received))
        await a.wait(lambda: len([r for r in a.received if r["t"] == "rerror"]) == 2)
        assert [r["code"] for r in a.received if r["t"] == "rerror"] == [4403, 4409]
        assert a.client_id in listed(b, lobby)
        assert a.close_code is None


async def test_hook_authentication_and_explicit_anonymous(ignite_addresses: list[tuple[str, int]]) -> None:
    coll, open_coll = fresh(), fresh()
    colls: dict[str, Any] = {coll: {}, open_coll: {"access": {"read": ["*"], "write": []}}}
    # anonymous only when configured: here jwt + allow_anonymous
    async with hub_on_ignite(config(ignite_addresses, colls, auth=jwt_auth(allow_anonymous=True))) as run:
        async with connected(run.url, None) as anon:
            await anon.sub(open_coll)
            await anon.sub(coll, wait=False)
            await anon.wait(lambda: any(e["code"] == 4403 for e in anon.errors))
            res = await anon.put(open_coll, "x", {"v": 1})
            assert res["s"] == "error" and res["code"] == 4403
    # the default (no allow_anonymous) refuses token-less clients
    async with hub_on_ignite(config(ignite_addresses, colls)) as run:
        assert await refused(run.url, None) == (CloseCode.UNAUTHORIZED, "missing")
    # a pluggable Python hook
    hook_auth = {"mode": "hook", "hook": "tests.support.acl:session_hook"}
    async with hub_on_ignite(config(ignite_addresses, colls, auth=hook_auth)) as run:
        async with connected(run.url, "session-alice") as c:
            await c.sub(coll)
        assert await refused(run.url, "session-nobody") == (CloseCode.UNAUTHORIZED, "rejected")
