"""Binary type registrations hold until the store's client meets a node it never met (a node that
started, or a whole cluster restarted in memory, which has lost every type): then each type is
registered again on next use (tests/integration/test_store_types_after_restart.py on real Ignite)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from hub.store.ignite.tx import Context, NodeWatch
from hub.store.ignite.values import ValueType


class _Client:
    def __init__(self) -> None:
        self._registry: dict[int, Any] = {1: "cached"}
        self.registered: list[Any] = []

    async def register_binary_type(self, data_class: Any) -> None:
        self.registered.append(data_class)


def _handshake(watch: NodeWatch, node: str | None) -> None:
    watch.on_handshake_success(SimpleNamespace(node_uuid=node))


def test_a_new_node_id_voids_the_registrations_and_a_known_one_does_not() -> None:
    client = _Client()
    ctx = Context(client)
    watch = NodeWatch(ctx)
    _handshake(watch, "node-a")
    first = ctx.types_token
    client._registry[1] = "cached"
    _handshake(watch, "node-a")  # the same node again (a socket re-opened): types kept
    _handshake(watch, None)  # an old server that sends no id: nothing to go by
    assert ctx.types_token == first and client._registry == {1: "cached"}
    _handshake(watch, "node-b")  # a node never met: maybe a cluster restarted empty
    assert ctx.types_token != first and client._registry == {}


def test_a_value_type_registers_its_schemas_again_under_a_new_token() -> None:
    client = _Client()
    ctx = Context(client)
    watch = NodeWatch(ctx)
    _handshake(watch, "node-a")
    vt = ValueType("T")
    vt.encode_raw({"id": "x", "v": 1})
    vt.encode_raw({"id": "y", "v": 2, "w": "s"})

    async def writes() -> None:
        await vt.register(client, ctx.types_token)
        await vt.register(client, ctx.types_token)  # registered: nothing sent
        assert len(client.registered) == 2
        _handshake(watch, "node-b")
        await vt.register(client, ctx.types_token)
        assert len(client.registered) == 4

    asyncio.run(writes())
