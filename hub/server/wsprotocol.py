"""The uvicorn WebSocket protocol the hub runs: uvicorn's websockets-sansio one, holding less per
connection.

A hub's connections are mostly idle, and at 10,000 of them what uvicorn's protocol object keeps
for each was about a third of the hub's memory (docs/benchmarks.md, "Memory per idle
connection"). Three of those parts are only needed briefly, or can be smaller:

* the handshake's ``Request`` and ``Response`` (their header maps, ~4 KiB), kept for the whole
  connection although they are read only until the ``101`` response is sent (and the request
  once more by websockets' parser, whose generator frame holds it: its headers are emptied);
* the inbox of received messages, an ``asyncio.Queue`` (four deques, ~3 KiB even when empty);
  uvicorn calls only ``put_nowait``, ``get`` and ``empty`` on it, and pauses reading until it
  is drained, so it rarely holds more than one message;
* the ``writable`` ``asyncio.Event`` (a deque, ~760 bytes).

It also lets the hub's writer send a message straight to the socket (:meth:`LeanSansIOProtocol.send_message`,
found in the ASGI scope's extensions under ``DIRECT``): a live frame is encoded once and shared by
every subscriber, and the ASGI send path (a coroutine, starlette's and uvicorn's checks, websockets'
frame writer) costs more per subscriber than the frame's own system call (docs/benchmarks.md). It
is taken only while the connection is open, not paused and has no extension that rewrites frames
(permessage-deflate, ``[hub] ws_deflate``); otherwise the writer uses the ASGI path.

This is the one module that reaches into uvicorn's protocol (its ``queue``, ``writable``,
``request``, ``response``, ``conn``, ``transport`` and ``close_sent`` attributes, as of uvicorn
0.54); ``tests/test_wsprotocol.py`` checks that they are still what it replaces, so an upgrade that
renames them fails there, and every ``/sync`` test runs through it.
"""

from __future__ import annotations

import struct
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

from hub.server.flag import Flag


class Inbox:
    """The part of ``asyncio.Queue`` uvicorn's protocol uses, without the up-front deques."""

    __slots__ = ("_items", "_ready")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._ready = Flag()

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._ready.set()

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    async def get(self) -> Any:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.pop(0)


#: The ASGI scope extension under which a connection finds its protocol.
DIRECT = "synchub.direct"

_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")
_FIN_BINARY = 0x82


def binary_frame(payload: bytes) -> bytes:
    """``payload`` as one unmasked, final binary WebSocket frame (RFC 6455 §5.2: a server never
    masks), the bytes websockets writes for it."""
    n = len(payload)
    if n < 126:
        head = _SHORT.pack(_FIN_BINARY, n)
    elif n < 65536:
        head = _MEDIUM.pack(_FIN_BINARY, 126, n)
    else:
        head = _LONG.pack(_FIN_BINARY, 127, n)
    return head + payload


class _LastFrame:
    """The last message framed: a broadcast sends the same bytes to every subscriber in a row, and
    a big frame is not copied again for each."""

    __slots__ = ("framed", "payload")

    def __init__(self) -> None:
        self.payload = b""
        self.framed = binary_frame(b"")


_LAST = _LastFrame()


class LeanSansIOProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol with the parts above made smaller."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]  # the same calls (module doc)
        writable = Flag()
        writable.set()
        self.writable = writable  # type: ignore[assignment]  # set/clear/wait, as an Event

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete and "response" in self.__dict__:
            # The 101 (or the refusal) is sent: nothing reads the handshake again. websockets'
            # parser keeps the Request in its generator frame for the connection's whole life, so
            # its headers (copied into the ASGI scope already) are emptied as well.
            self.request.headers.clear()
            del self.request, self.response

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = self.__dict__.get("scope")
        if scope is not None:  # (a refused handshake has no scope: no app runs)
            # the protocol itself, not the usual dict: no extra allocation per connection
            scope["extensions"][DIRECT] = self

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        scope = self.__dict__.get("scope")
        if scope is not None:  # the scope and the protocol refer to each other: let go at once
            scope["extensions"].pop(DIRECT, None)

    def can_send(self) -> bool:
        """Whether :meth:`send_message` may write now (module doc)."""
        return (
            self.handshake_complete
            and not self.close_sent
            and not self.disconnected
            and self.initial_response is None
            and self.writable.is_set()
            and self.conn.state is State.OPEN
            and not self.conn.extensions
            and not self.transport.is_closing()
        )

    def send_message(self, data: bytes) -> None:
        """Write ``data`` as one binary message, now (the caller checked :meth:`can_send`)."""
        last = _LAST
        if data is not last.payload:
            last.payload, last.framed = data, binary_frame(data)
        self.transport.write(last.framed)
