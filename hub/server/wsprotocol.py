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

This is the one module that reaches into uvicorn's protocol (its ``queue``, ``writable``,
``request`` and ``response`` attributes, as of uvicorn 0.54); ``tests/test_wsprotocol.py`` checks
that they are still what it replaces, so an upgrade that renames them fails there, and every
``/sync`` test runs through it.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

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
