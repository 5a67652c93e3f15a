"""One document must not stop sync (docs/protocol.md "Document limits"), on real Ignite and real hubs:

* a document an external writer stored beyond the limits reaches subscribers as a placeholder, live
  and in snapshots, and every frame stays within what a client decodes; nothing closes;
* a mutation the hub will never accept fails alone in its batch's ``ack``; the socket stays open;
* a rolling deploy: a hub that does not serve a collection another hub serves answers 4504 (retry)
  without recording it, so the same mutation applies on the other hub; a collection no hub ever
  served is refused for good (4404).
"""

from __future__ import annotations

from typing import Any

import pytest
from pyignite import GenericObjectMeta
from pyignite.datatypes import CollectionObject, String

from hub import codec
from tests.integration.conftest import HubFactory, fresh, ignite_docs, sub, wait_for
from tests.support.wsclient import HubClient

pytestmark = pytest.mark.asyncio(loop_scope="session")

#: What a client decodes (client-js/src/transport-ws.js): no map or list above the entry limit.
CLIENT_FRAME_LIMITS = codec.Limits(max_array_len=10_000, max_map_len=10_000)


async def _client(clients: list[HubClient], url: str, prefix: str) -> HubClient:
    c = HubClient(url, fresh(prefix))
    clients.append(c)
    await c.connect()
    return c


def _external_type(coll: str) -> Any:
    """A pyignite class of the collection's value type, as another application would declare it."""

    class Big(
        metaclass=GenericObjectMeta, type_name=coll, schema={"name": String, "items": CollectionObject}
    ):
        pass

    return Big


@pytest.mark.timeout(180)
async def test_an_oversize_stored_document_arrives_as_a_placeholder(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any, aio_client: Any
) -> None:
    coll = fresh("big")
    hub = await hubs("hub", ignite_addresses, {coll: {"cache": coll}})
    live = await _client(clients, hub.url, "live")
    await sub(live, coll)
    writer = await _client(clients, hub.url, "w")
    assert (await writer.put(coll, "before", {"n": 1}))["s"] == "ok"
    await wait_for(lambda: "before" in live.docs(coll), 30)

    # another application writes a document with more entries than any client holds
    big = _external_type(coll)(name="huge", items=(CollectionObject.ARR_LIST, list(range(20_000))))
    await (await aio_client.get_cache(coll)).put("huge", big)
    placeholder = {"$oversize": {"reason": "entries", "limit": 10_000, "size": 20_000}}
    await wait_for(lambda: live.docs(coll).get("huge") == placeholder, 30)

    # other documents keep flowing, the connection never closed
    assert (await writer.put(coll, "after", {"n": 2}))["s"] == "ok"
    await wait_for(lambda: live.docs(coll).get("after") == {"n": 2}, 30)
    assert live.close_code is None and writer.close_code is None

    # a snapshot holds the placeholder too
    fresh_reader = await _client(clients, hub.url, "snap")
    await sub(fresh_reader, coll)
    assert fresh_reader.docs(coll) == {"before": {"n": 1}, "huge": placeholder, "after": {"n": 2}}
    for c in (live, fresh_reader):
        for raw in c.raw:
            codec.decode(raw, CLIENT_FRAME_LIMITS)  # a client decodes every frame the hub sent

    # the stored document is untouched, and writing a placeholder back is refused
    assert len((await ignite_docs(aio_client, coll))["huge"]["items"]) == 20_000
    (back,) = await writer.mut([writer.put_op(coll, "huge", placeholder)])
    assert (back["s"], back["code"]) == ("error", 4001)
    assert len((await ignite_docs(aio_client, coll))["huge"]["items"]) == 20_000


@pytest.mark.timeout(120)
async def test_a_never_acceptable_mutation_fails_alone(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any, aio_client: Any
) -> None:
    coll = fresh("lim")
    hub = await hubs("hub", ignite_addresses, {coll: {"cache": coll}})
    c = await _client(clients, hub.url, "m")
    assert (await c.put(coll, "typed", {"n": 1}))["s"] == "ok"  # registers ``n`` as a number
    deep: dict[str, Any] = {"x": 1}
    for _ in range(20):
        deep = {"d": deep}
    batch = [
        c.put_op(coll, "a", {"n": 1}),
        c.put_op(coll, "too-many", {"l": list(range(10_001))}),
        c.put_op(coll, "too-deep", deep),
        c.put_op(coll, "too-big", {"s": "x" * (300 * 1024)}),
        c.put_op(coll, "typed", {"n": "not a number"}),  # Ignite's binary type refuses it
        c.put_op(coll, "b", {"n": 2}),
    ]
    res = await c.mut(batch, 30)
    assert [(r["seq"], r["s"], r.get("code")) for r in res] == [
        (batch[0]["seq"], "ok", None),
        (batch[1]["seq"], "error", 4413),
        (batch[2]["seq"], "error", 4413),
        (batch[3]["seq"], "error", 4413),
        (batch[4]["seq"], "error", 4001),
        (batch[5]["seq"], "ok", None),
    ]
    assert all("doc" not in r for r in res if r["s"] == "error")
    await c.barrier()
    assert c.close_code is None
    assert await ignite_docs(aio_client, coll) == {"typed": {"n": 1}, "a": {"n": 1}, "b": {"n": 2}}


@pytest.mark.timeout(180)
async def test_rolling_deploy_a_collection_one_hub_does_not_serve_yet(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any, aio_client: Any
) -> None:
    old_coll, new_coll = fresh("old"), fresh("new")
    new_hub = await hubs(
        "new", ignite_addresses, {old_coll: {"cache": old_coll}, new_coll: {"cache": new_coll}}
    )
    old_hub = await hubs("old", ignite_addresses, {old_coll: {"cache": old_coll}})

    c = await _client(clients, old_hub.url, "roll")
    batch = [
        c.put_op(old_coll, "a", {"n": 1}),
        c.put_op(new_coll, "x", {"n": 2}),
        c.put_op(fresh("never"), "y", {"n": 3}),
    ]
    res = await c.mut(batch, 30)
    assert [(r["s"], r.get("code")) for r in res] == [("ok", None), ("error", 4504), ("error", 4404)]
    assert await ignite_docs(aio_client, new_coll) == {}
    assert c.close_code is None
    await c.close()

    # the client replays what it kept, with the same seq, on a hub that serves the collection
    again = HubClient(new_hub.url, c.client_id)
    clients.append(again)
    await again.connect()
    (replayed,) = await again.mut([batch[1]], 30)
    assert replayed["s"] == "ok" and not replayed.get("dup")
    assert await ignite_docs(aio_client, new_coll) == {"x": {"n": 2}}
