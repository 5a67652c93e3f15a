"""Deterministic CQ fault cases against a tiny fake thin-protocol server (no Ignite needed).

The fake speaks just enough of the protocol (1.7 handshake, OP 2006, OP 0, OP 1050) to produce what a real
node cannot produce on demand: a notification in the same write as the 2006 response, an error
notification, a socket that stays open but stops answering, a node dying during the handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pyignite import AioClient

import hub.ignite
from hub.core import errors
from hub.core.errors import CQConnectError, SubscriptionLost
from hub.ignite import CQEvent, EventType, continuous_query


def _string(s: str) -> bytes:
    b = s.encode()
    return b"\x09" + struct.pack("<i", len(b)) + b


def _int(v: int) -> bytes:
    return b"\x03" + struct.pack("<i", v)


NULL = b"\x65"


def notification(
    cq_id: int, events: list[tuple[bytes, bytes, bytes, int]], error: str | None = None
) -> bytes:
    if error is not None:
        body = struct.pack("<qhh", cq_id, 0x05, 2007) + struct.pack("<i", 1) + _string(error)
    else:
        payload = struct.pack("<i", len(events)) + b"".join(k + o + n + bytes([t]) for k, o, n, t in events)
        body = struct.pack("<qhh", cq_id, 0x04, 2007) + payload
    return struct.pack("<i", len(body)) + body


def response(req_id: int, payload: bytes = b"") -> bytes:
    body = struct.pack("<qh", req_id, 0) + payload
    return struct.pack("<i", len(body)) + body


HANDSHAKE_OK = b"\x01" + b"\x0c" + struct.pack("<i", 1) + b"\x04" + b"\x0a" + bytes(16)
HANDSHAKE_OK = struct.pack("<i", len(HANDSHAKE_OK)) + HANDSHAKE_OK

Handler = Callable[["FakeConn", int, int, bytes], bytes | None]


class FakeConn:
    def __init__(self, server: FakeIgnite, writer: asyncio.StreamWriter, index: int) -> None:
        self.server = server
        self.writer = writer
        self.index = index
        self.next_cq = 0
        self.open_cqs: set[int] = set()
        self.silent = False


class FakeIgnite:
    """Connection ``i`` (0 = the pool connection of the client) runs ``mode_for(i)``."""

    def __init__(self) -> None:
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.conns: list[FakeConn] = []
        self.mode_for: Callable[[int], str] = lambda i: "normal"
        self.on_start: Callable[[FakeConn, int, int], bytes] | None = None
        self.closed_cqs: list[int] = []

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop_listening(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for c in self.conns:
            c.writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = FakeConn(self, writer, len(self.conns))
        self.conns.append(conn)
        mode = self.mode_for(conn.index)
        try:
            n = struct.unpack("<i", await reader.readexactly(4))[0]
            await reader.readexactly(n)
            if mode == "close_on_handshake":
                writer.close()
                return
            if mode == "half_handshake":
                writer.write(HANDSHAKE_OK[:7])
                await writer.drain()
                await asyncio.sleep(3600)
                return
            writer.write(HANDSHAKE_OK)
            while True:
                n = struct.unpack("<i", await reader.readexactly(4))[0]
                frame = await reader.readexactly(n)
                op, req_id = struct.unpack_from("<hq", frame, 0)
                if conn.silent:
                    continue
                writer.write(self._answer(conn, op, req_id, frame[10:]))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            writer.close()

    def _answer(self, conn: FakeConn, op: int, req_id: int, payload: bytes) -> bytes:
        if op == 2006:
            conn.next_cq += 1
            conn.open_cqs.add(conn.next_cq)
            if self.on_start is not None:
                return self.on_start(conn, req_id, conn.next_cq)
            return response(req_id, struct.pack("<q", conn.next_cq))
        if op == 0:
            cq = struct.unpack("<q", payload)[0]
            conn.open_cqs.discard(cq)
            self.closed_cqs.append(cq)
            return response(req_id)
        if op == 1050:
            return response(req_id, struct.pack("<i", 0))
        return response(req_id)


@pytest.fixture
async def fake() -> AsyncIterator[FakeIgnite]:
    server = FakeIgnite()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def fake_client(fake: FakeIgnite) -> AsyncIterator[Any]:
    client = AioClient(partition_aware=False)
    await client.connect([("127.0.0.1", fake.port)])
    try:
        yield client
    finally:
        await client.close()


async def test_notification_before_start_response_is_kept(fake: FakeIgnite, fake_client: Any) -> None:
    def early(conn: FakeConn, req_id: int, cq_id: int) -> bytes:
        ev1 = (_int(1), NULL, _string("a"), 0)
        ev2 = (_int(1), _string("a"), _string("b"), 1)
        # two notifications *before* the response, in the same write, then one after
        return (
            notification(cq_id, [ev1])
            + notification(cq_id, [ev2])
            + response(req_id, struct.pack("<q", cq_id))
            + notification(cq_id, [(_int(1), _string("b"), NULL, 2)])
        )

    fake.on_start = early
    async with continuous_query(fake_client, "c") as events:
        got: list[CQEvent] = []
        async for batch in events:
            got.extend(batch)
            if len(got) == 3:
                break
    assert [(e.type, e.key, e.old, e.value) for e in got] == [
        (EventType.CREATED, 1, None, "a"),
        (EventType.UPDATED, 1, "a", "b"),
        (EventType.REMOVED, 1, "b", None),
    ]
    assert fake.closed_cqs == [1]  # OP 0 sent on exit


async def test_half_open_socket_detected_by_probe(fake: FakeIgnite, fake_client: Any) -> None:
    async with continuous_query(fake_client, "c", probe_interval=0.2, probe_timeout=0.5) as events:
        fake.conns[-1].silent = True  # socket stays open, nothing is answered any more
        with pytest.raises(SubscriptionLost) as info:
            async for _ in events:
                pass
    assert info.value.reason == "timeout"


async def test_socket_drop_ends_iterator(fake: FakeIgnite, fake_client: Any) -> None:
    async with continuous_query(fake_client, "c") as events:
        fake.conns[-1].writer.transport.abort()
        with pytest.raises(SubscriptionLost) as info:
            async for _ in events:
                pass
    assert info.value.reason == "connection"


async def test_error_notification(fake: FakeIgnite, fake_client: Any) -> None:
    def with_error(conn: FakeConn, req_id: int, cq_id: int) -> bytes:
        return response(req_id, struct.pack("<q", cq_id)) + notification(cq_id, [], error="boom")

    fake.on_start = with_error
    async with continuous_query(fake_client, "c") as events:
        with pytest.raises(SubscriptionLost) as info:
            async for _ in events:
                pass
    assert info.value.reason == "server" and "boom" in str(info.value)


@pytest.mark.parametrize("limit", [{"buffer_batches": 10}, {"buffer_bytes": 200}])
async def test_overflow_is_bounded_and_reported(
    fake: FakeIgnite, fake_client: Any, limit: dict[str, int]
) -> None:
    def flood(conn: FakeConn, req_id: int, cq_id: int) -> bytes:
        ev = notification(cq_id, [(_int(1), NULL, _int(2), 0)])
        return response(req_id, struct.pack("<q", cq_id)) + ev * 50

    fake.on_start = flood
    async with continuous_query(fake_client, "c", **limit) as events:
        for _ in range(100):
            if events.lost is not None:
                break
            await asyncio.sleep(0.01)
        assert events.buffered == 0  # the buffer was dropped, not grown
        with pytest.raises(SubscriptionLost) as info:
            await events.__anext__()
    assert info.value.reason == "overflow"
    assert fake.closed_cqs == [1]  # the server CQ was stopped


async def test_node_closes_during_handshake(fake: FakeIgnite, fake_client: Any) -> None:
    fake.mode_for = lambda i: "close_on_handshake" if i > 0 else "normal"
    with pytest.raises(CQConnectError):
        async with continuous_query(fake_client, "c"):
            pass


async def test_node_sends_half_handshake(fake: FakeIgnite, fake_client: Any) -> None:
    fake.mode_for = lambda i: "half_handshake" if i > 0 else "normal"
    with pytest.raises(CQConnectError) as info:
        async with continuous_query(fake_client, "c", connect_timeout=0.5):
            pass
    assert "127.0.0.1" in str(info.value)


async def test_unreachable_node(fake: FakeIgnite, fake_client: Any) -> None:
    await fake.stop_listening()
    with pytest.raises(CQConnectError) as info:
        async with continuous_query(fake_client, "c"):
            pass
    assert "ConnectionRefused" in str(info.value) or "Connect call failed" in str(info.value)


async def test_cqs_share_one_connection_and_close_it_last(fake: FakeIgnite, fake_client: Any) -> None:
    async with continuous_query(fake_client, "a") as a, continuous_query(fake_client, "b") as b:
        assert a.connection is b.connection and a.cq_id == 1 and b.cq_id == 2
        conn = a.connection
    assert conn is not None and not conn.alive
    assert sorted(fake.closed_cqs) == [1, 2]
    with contextlib.suppress(Exception):
        await fake_client.close()


def test_errors_are_the_hub_errors_and_stay_public_in_hub_ignite() -> None:
    for name in (
        "BinaryDecodeError",
        "CQConnectError",
        "CacheNotFound",
        "ContinuousQueryError",
        "SubscriptionLost",
    ):
        assert getattr(hub.ignite, name) is getattr(errors, name)
    assert issubclass(CQConnectError, ConnectionError)
    assert issubclass(errors.BinaryDecodeError, ValueError)
