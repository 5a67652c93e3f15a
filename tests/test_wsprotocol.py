"""hub/server/wsprotocol.py: uvicorn's websockets-sansio protocol with lighter per-connection state."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.http11 import Request

from hub.app import create_app, server_options
from hub.config import Config
from hub.server.flag import Flag
from hub.server.wsprotocol import Inbox, LeanSansIOProtocol
from hub.store.memory import MemoryStore
from tests.support.server import running_hub
from tests.support.wsclient import HubClient
from tests.test_ws import make_config


async def test_the_inbox_hands_out_messages_in_order_and_waits_when_empty() -> None:
    box = Inbox()
    assert box.empty() and box.qsize() == 0
    box.put_nowait({"n": 1})
    box.put_nowait({"n": 2})
    assert not box.empty() and box.qsize() == 2
    assert [await box.get(), await box.get()] == [{"n": 1}, {"n": 2}]
    waiting = asyncio.create_task(box.get())
    await asyncio.sleep(0.01)
    assert not waiting.done() and box.empty()
    box.put_nowait({"n": 3})
    assert await asyncio.wait_for(waiting, 1) == {"n": 3}


async def test_it_replaces_what_uvicorn_holds() -> None:
    """uvicorn's protocol still has the attributes the lean one replaces, of the types it
    replaces (an uvicorn upgrade that renames them fails here)."""
    config = uvicorn.Config(create_app(Config(), store=MemoryStore()), **server_options(Config()))
    config.load()
    assert config.ws_protocol_class is LeanSansIOProtocol
    plain = WebSocketsSansIOProtocol(config, ServerState(), {})
    assert isinstance(plain.queue, asyncio.Queue) and isinstance(plain.writable, asyncio.Event)
    lean = LeanSansIOProtocol(config, ServerState(), {})
    assert isinstance(lean.queue, Inbox) and isinstance(lean.writable, Flag)
    assert lean.writable.is_set()


async def test_the_handshake_is_let_go_once_accepted() -> None:
    async with running_hub(make_config(), MemoryStore()) as run:
        c = HubClient(run.url)
        try:
            await c.connect()
            (proto,) = [p for p in run.server.server_state.connections if isinstance(p, LeanSansIOProtocol)]
            state: dict[str, Any] = vars(proto)
            assert proto.handshake_complete and "request" not in state and "response" not in state
            # websockets' parser still holds the Request in its frame (module doc), headers emptied
            frame = proto.conn.parser.gi_frame
            request = frame.f_locals.get("request") if frame is not None else None
            assert isinstance(request, Request) and request.path == "/sync" and len(request.headers) == 0
            await c.send({"t": "ping", "n": 7})
            await c.wait(lambda: any(m["t"] == "pong" and m["n"] == 7 for m in c.received))
        finally:
            await c.close()
