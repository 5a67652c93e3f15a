"""hub/server/wsprotocol.py: uvicorn's websockets-sansio protocol with lighter per-connection state."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.frames import Frame, Opcode
from websockets.http11 import Request

from hub import codec
from hub.app import create_app, server_options
from hub.config import Config
from hub.server.flag import Flag
from hub.server.writer import Writer
from hub.server.wsprotocol import DIRECT, Inbox, LeanSansIOProtocol, binary_frame
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


def test_binary_frame_is_what_websockets_writes() -> None:
    for n in (0, 1, 125, 126, 127, 65535, 65536, 70000):
        payload = bytes(range(256)) * (n // 256) + bytes(n % 256)
        assert binary_frame(payload) == Frame(Opcode.BINARY, payload).serialize(mask=False)


def _server_protocol(run: Any) -> LeanSansIOProtocol:
    (proto,) = [p for p in run.server.server_state.connections if isinstance(p, LeanSansIOProtocol)]
    return proto


async def _pong(c: HubClient, n: int) -> None:
    await c.send({"t": "ping", "n": n})
    await c.wait(lambda: any(m["t"] == "pong" and m["n"] == n for m in c.received))


async def test_frames_go_straight_to_the_socket_and_wait_for_it_when_paused() -> None:
    async with running_hub(make_config(), MemoryStore()) as run:
        c = HubClient(run.url)
        try:
            await c.connect()
            proto = _server_protocol(run)
            assert proto.scope["extensions"][DIRECT] is proto and proto.can_send()
            direct: list[bytes] = []
            send_message = proto.send_message

            def spy(data: bytes) -> None:
                direct.append(data)
                send_message(data)

            proto.send_message = spy  # type: ignore[method-assign]
            await _pong(c, 1)
            assert len(direct) == 1 and codec.decode(direct[0]) == {"t": "pong", "n": 1}
            # Paused (the peer reads slowly): the writer task waits for the socket, in order.
            proto.writable.clear()
            assert not proto.can_send()
            for n in (2, 3):
                await c.send({"t": "ping", "n": n})
            await asyncio.sleep(0.2)
            assert not any(m["t"] == "pong" and m["n"] in (2, 3) for m in c.received)
            proto.writable.set()
            await c.wait(lambda: any(m["t"] == "pong" and m["n"] == 3 for m in c.received))
            pongs = [m["n"] for m in c.received if m["t"] == "pong"]
            assert pongs == [1, 2, 3] and len(direct) == 1
            await _pong(c, 4)  # the task is done: straight to the socket again
            assert len(direct) == 2
        finally:
            await c.close()
        await asyncio.sleep(0.1)
        assert DIRECT not in proto.scope["extensions"]  # let go once the connection is lost


async def _metric(http: str, name: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(http + "/metrics")).text
    (line,) = [ln for ln in text.splitlines() if ln.startswith(name + " ")]
    return float(line.split()[-1])


async def test_a_live_frame_goes_out_at_once_unless_something_waits_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A broadcast writes each subscriber's frame at once when its connection has nothing queued;
    behind queued frames (a paused socket) it queues, so nothing overtakes; both are counted."""
    store = MemoryStore()
    async with running_hub(make_config(), store) as run:
        c = HubClient(run.url)
        try:
            await c.connect()
            await c.sub("todos")
            proto = _server_protocol(run)
            outcomes: list[bool] = []
            real = Writer.send_live_now

            def spy(self: Writer, coll: str, frame: bytes, cursor: Any) -> bool:
                outcomes.append(real(self, coll, frame, cursor))
                return outcomes[-1]

            monkeypatch.setattr(Writer, "send_live_now", spy)
            store.external_write("todos", "a", {"n": 1})
            await c.wait(lambda: c.docs("todos").get("a") == {"n": 1})
            assert outcomes == [True]
            # Paused: the frames queue, the pong behind them; nothing goes out of order.
            proto.writable.clear()
            store.external_write("todos", "b", {"n": 2})
            await asyncio.sleep(0.1)
            await c.send({"t": "ping", "n": 9})
            await asyncio.sleep(0.1)
            store.external_write("todos", "c", {"n": 3})
            await asyncio.sleep(0.1)
            assert outcomes[1:] == [False, False] and "b" not in c.docs("todos")
            proto.writable.set()
            await c.wait(lambda: "c" in c.docs("todos"))
            seen = [
                m["t"] if m["t"] != "chg" else [ch[0] for ch in m["changes"]]
                for m in c.received
                if m["t"] in ("chg", "pong") and (m["t"] == "pong" or m["changes"])
            ]
            assert seen[-3:] == [["b"], "pong", ["c"]]
            store.external_write("todos", "d", {"n": 4})  # the queue is empty again: at once
            await c.wait(lambda: "d" in c.docs("todos"))
            assert outcomes[-1] is True
            # Counted alike on both paths: four changes to one client.
            assert await _metric(run.http, "synchub_events_out_total") == 4
            assert await _metric(run.http, "synchub_push_lag_seconds_count") == 4
        finally:
            await c.close()


async def test_a_negotiated_extension_keeps_the_asgi_send_path() -> None:
    async with running_hub(make_config(ws_deflate=True), MemoryStore()) as run:
        async with websockets.connect(run.url, compression="deflate", max_size=None) as ws:
            assert "permessage-deflate" in ws.response.headers.get("Sec-WebSocket-Extensions", "")
            proto = _server_protocol(run)
            assert not proto.can_send()
            await ws.send(codec.encode({"t": "hello", "v": [1], "client": "c-deflate", "token": "dev"}))
            assert codec.decode(await asyncio.wait_for(ws.recv(), 5))["t"] == "welcome"
