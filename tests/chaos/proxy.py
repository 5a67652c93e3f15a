"""A TCP proxy in front of a hub, so the chaos suite can hurt the client ↔ hub connections the
way networks do: cut every connection (optionally in the middle of a frame), hold bytes back for
a while, stop reading for one client (a slow consumer), and refuse new connections.

Each direction is pumped by its own task; a cut closes both sockets without a WebSocket close
frame (the peers see an abnormal closure, as after a lost route)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time

# the proxy's receive buffer towards the hub: small and fixed (no autotuning), so a client the
# proxy stops reading for backs up into the hub's send queue within a few hundred KiB
UPSTREAM_RCVBUF = 32 * 1024


class Proxy:
    def __init__(self, upstream_port: int, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.upstream_port = upstream_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self.delay_s = 0.0
        self.refusing = False
        # a cut armed by cut_mid_frame(): the next chunk in either direction is forwarded in part
        self._cut_next = False
        self._rng = random.Random(0)
        self.cuts = 0

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/sync"

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, port or self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        self.cut_all()

    def cut_all(self) -> int:
        """Cut every open connection now; return how many were cut."""
        links = list(self._links)
        for link in links:
            link.cut()
        self.cuts += len(links)
        return len(links)

    def cut_mid_frame(self, seed: int) -> None:
        """Cut every connection at the next chunk either side sends, after forwarding only part
        of it (a frame torn in the middle)."""
        self._rng = random.Random(seed)
        self._cut_next = True

    def hold(self, ports: set[int], seconds: float) -> int:
        """Stop forwarding hub → client for the connections whose client side is one of ``ports``
        for ``seconds`` (a client that does not read: a slow consumer); return how many."""
        until = time.monotonic() + seconds
        held = [link for link in self._links if link.peer_port in ports]
        for link in held:
            link.held_until = until
        return len(held)

    def stall(self, seconds: float) -> None:
        """Hold every chunk back by ``seconds`` (0 to stop); order within a direction is kept."""
        self.delay_s = seconds

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        try:
            up = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            up.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UPSTREAM_RCVBUF)
            up.setblocking(False)
            try:
                await asyncio.get_running_loop().sock_connect(up, (self.host, self.upstream_port))
            except BaseException:
                up.close()
                raise
            up_r, up_w = await asyncio.open_connection(sock=up)
        except OSError:
            writer.transport.abort()
            return
        link = _Link(self, reader, writer, up_r, up_w)
        self._links.add(link)
        try:
            await link.run()
        finally:
            self._links.discard(link)


class _Link:
    def __init__(
        self,
        proxy: Proxy,
        down_r: asyncio.StreamReader,
        down_w: asyncio.StreamWriter,
        up_r: asyncio.StreamReader,
        up_w: asyncio.StreamWriter,
    ) -> None:
        self.proxy = proxy
        self.writers = (down_w, up_w)
        peer = down_w.get_extra_info("peername")
        self.peer_port = int(peer[1]) if peer else 0
        self.held_until = 0.0
        self.pumps = [
            asyncio.ensure_future(self._pump(down_r, up_w)),
            asyncio.ensure_future(self._pump(up_r, down_w, to_client=True)),
        ]

    async def run(self) -> None:
        await asyncio.wait(self.pumps, return_when=asyncio.FIRST_COMPLETED)
        self.cut()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self.pumps, return_exceptions=True)

    def cut(self) -> None:
        for w in self.writers:
            w.transport.abort()
        for p in self.pumps:
            p.cancel()

    async def _pump(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, to_client: bool = False
    ) -> None:
        proxy = self.proxy
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ConnectionError):
            while True:
                if to_client:
                    # held: read nothing more from the hub (one chunk at most waits here)
                    while (wait := self.held_until - time.monotonic()) > 0:
                        await asyncio.sleep(wait)
                chunk = await src.read(65536)
                if not chunk:  # the peer closed: the link is cut (run())
                    return
                if proxy.delay_s > 0:
                    await asyncio.sleep(proxy.delay_s)
                if proxy._cut_next:
                    proxy._cut_next = False
                    part = chunk[: proxy._rng.randrange(len(chunk))] if len(chunk) > 1 else b""
                    dst.write(part)
                    with contextlib.suppress(Exception):
                        await dst.drain()
                    proxy.cut_all()
                    return
                dst.write(chunk)
                await dst.drain()
