"""Bad input against a real hub process with Ignite behind it: each case gets its documented close
code or error result, nothing stored changes, and a client connected all along is unaffected."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from hub import codec
from hub.store.ignite.schema import meta_cache_name
from tests.integration.conftest import HubFactory, fresh, ignite_docs, sub, wait_for
from tests.support.wsclient import HubClient

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _hello(client: str = "bad") -> dict[str, Any]:
    return {"t": "hello", "v": [1], "client": client, "token": "dev"}


# (name, frames sent after connecting WITHOUT hello, expected close code)
BEFORE_HELLO: list[tuple[str, list[bytes | str], int]] = [
    ("garbage", [b"\xc1\xff\x00garbage\x00"], 4000),
    ("truncated", [codec.encode(_hello())[:-4]], 4000),
    ("not-a-map", [msgpack.packb(["t", "hello"])], 4000),
    ("text-frame", ['{"t": "hello"}'], 4000),
    ("hello-wrong-types", [codec.encode({"t": "hello", "v": "1", "client": 7, "token": None})], 4001),
    ("sub-before-hello", [codec.encode({"t": "sub", "id": 1, "coll": "x", "cursor": None})], 4003),
]


# (name, frames sent AFTER a successful hello, expected close code); {coll} is the real collection
def _after_hello(coll: str) -> list[tuple[str, list[bytes], int]]:
    return [
        ("second-hello", [codec.encode(_hello())], 4003),
        ("unknown-type", [codec.encode({"t": "frobnicate", "n": 1})], 4004),
        ("sub-id-not-int", [codec.encode({"t": "sub", "id": "one", "coll": coll, "cursor": None})], 4001),
        ("sub-bad-cursor", [codec.encode({"t": "sub", "id": 1, "coll": coll, "cursor": "x"})], 4001),
        ("mut-batch-not-list", [codec.encode({"t": "mut", "batch": {"seq": 1}})], 4001),
        (
            "mut-seq-not-int",
            [codec.encode({"t": "mut", "batch": [{"seq": "1", "coll": coll, "id": "a", "op": "put"}]})],
            4001,
        ),
        ("mut-empty-batch", [codec.encode({"t": "mut", "batch": []})], 4001),
        ("truncated-after-hello", [codec.encode({"t": "ping", "n": 1})[:-1]], 4000),
    ]


async def _store_state(aio: Any, cache: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return await ignite_docs(aio, cache), await ignite_docs(aio, meta_cache_name(cache))


@pytest.mark.timeout(120)
async def test_bad_input_closes_with_documented_codes(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any, aio_client: Any
) -> None:
    coll = fresh("bad")
    hub = await hubs("hub", ignite_addresses, {coll: {"cache": coll}})

    bystander = HubClient(hub.url, fresh("bystander"))
    other = HubClient(hub.url, fresh("other"))
    clients.extend([bystander, other])
    await bystander.connect()
    await other.connect()
    await sub(bystander, coll)
    seed = await bystander.mut([bystander.put_op(coll, f"s{i}", {"v": i}) for i in range(5)])
    assert all(r["s"] == "ok" for r in seed)
    await wait_for(lambda: len(bystander.docs(coll)) == 5, 30)
    before = await _store_state(aio_client, coll)

    results: dict[str, int] = {}
    cases: list[tuple[str, list[bytes | str], int, bool]] = [(n, f, c, False) for n, f, c in BEFORE_HELLO]
    cases += [(n, list(f), c, True) for n, f, c in _after_hello(coll)]
    for name, frames, _code, hello in cases:
        bad = HubClient(hub.url, fresh("bad"))
        if hello:
            await bad.connect()
        else:
            await bad.open()
        for frame in frames:
            await bad.send_raw(frame)
        results[name] = await bad.wait_closed(10)
        await bad.close()
    assert results == {name: code for name, _f, code, _h in cases}

    # invalid mutations that only fail themselves: unknown collection, bad fields
    mutant = HubClient(hub.url, fresh("mutant"))
    clients.append(mutant)
    await mutant.connect()
    batch = [
        mutant.put_op("no_such_collection", "a", {"v": 1}),
        mutant.put_op(coll, "", {"v": 1}),
        mutant.put_op(coll, "s1", {"id": "other", "v": 1}),
        {**mutant.put_op(coll, "s2", {"v": 1}), "op": "upsert"},
        {**mutant.put_op(coll, "s3", {"v": 1}), "ts": "yesterday"},
        {**mutant.put_op(coll, "s4", {"v": 1}), "doc": None},
        mutant.del_op(coll, "s0", base=-1),
    ]
    res = await mutant.mut(batch, 30)
    assert [(r["seq"], r["s"], r.get("code"), r["ver"]) for r in res] == [
        (batch[0]["seq"], "error", 4404, 0)
    ] + [(m["seq"], "error", 4001, 0) for m in batch[1:]]
    assert all("doc" not in r for r in res), "error results carry no document"
    sub_err = await sub_error(mutant, "no_such_collection")
    assert sub_err["code"] == 4404
    assert mutant.close_code is None  # still open

    assert await _store_state(aio_client, coll) == before, "bad input changed stored data"

    # the bystander was not disturbed: its writes are acked and it sees live changes
    assert bystander.close_code is None and other.close_code is None
    (mine,) = await bystander.mut([bystander.put_op(coll, "after", {"v": 42})])
    assert mine["s"] == "ok"
    (theirs,) = await other.mut([other.put_op(coll, "live", {"v": 43})])
    assert theirs["s"] == "ok"
    await wait_for(lambda: bystander.docs(coll).get("live") == {"v": 43}, 30)
    assert bystander.versions(coll)["live"] == theirs["ver"]
    assert (await ignite_docs(aio_client, coll))["after"] == {"v": 42}


async def sub_error(c: HubClient, coll: str) -> dict[str, Any]:
    n = len(c.errors)
    await c.sub(coll, wait=False)
    await c.wait(lambda: len(c.errors) > n or c.close_code is not None, 10)
    err = c.errors[-1]
    assert err["t"] == "error"
    return err
