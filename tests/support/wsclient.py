"""An asyncio test client speaking the synchub protocol (docs/protocol.md) over ``websockets``.

It keeps a local model exactly as a real client must: per collection a map id -> (ver, doc|None),
tombstones kept, a change applied only when its version is newer; ``synced`` with ``reset``
drops every document the sync's pages did not mention. It sends ``mut`` batches with its own
``seq`` counter and hybrid logical clock and waits for their ``ack``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from hub import codec
from tests.support.waiting import awaited_at

Model = dict[str, tuple[int, dict[str, Any] | None]]


class HubClient:
    def __init__(
        self, url: str, client_id: str | None = None, token: str | None = "dev", *, clock_error_ms: int = 0
    ) -> None:
        self.url = url
        # A device whose clock is off: its timestamps and the ``now`` of its hello carry the error.
        self.clock_error_ms = clock_error_ms
        self.client_id = client_id or f"c-{uuid.uuid4().hex[:8]}"
        self.token = token
        self.ws: ClientConnection | None = None
        self.welcome: dict[str, Any] | None = None
        self.hello_rtt_s = 0.0  # hello sent -> welcome received (connect)
        self.received: list[dict[str, Any]] = []
        self._ping_n = 1_000_000  # barrier() pings, far from the hub's own numbers
        self.raw: list[bytes] = []
        self.models: dict[str, Model] = {}
        self.cursors: dict[str, list[Any]] = {}
        self.synced: dict[str, list[dict[str, Any]]] = {}
        self.resyncs: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.close_reason: str = ""
        self.seq = 0
        self._hlc = 0
        self._acks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._seen: dict[str, set[str]] = {}
        self._changed = asyncio.Event()
        self._reading = asyncio.Event()
        self._reading.set()
        self._reader: asyncio.Task[None] | None = None
        self._sub_ids = itertools.count(1)
        #: Read at most this many bytes per second (a client on a slow link); None: as fast as it can.
        self.read_rate: float | None = None
        #: ``hello.features`` to announce (``["batch"]``: take several frames per message).
        self.features: list[str] | None = None
        #: Messages that held several frames (a batch), and the frames they held.
        self.batches = 0
        self.batched_frames = 0

    # ------------------------------------------------------------------ connection

    async def open(self, *, small_rcvbuf: bool = False) -> None:
        """Open the WebSocket (no hello). ``small_rcvbuf`` makes a stalled reader fill up fast."""
        kwargs: dict[str, Any] = {"compression": None, "max_size": None, "max_queue": 4}
        if small_rcvbuf:
            host, port = self.url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
            kwargs["sock"] = sock
        self.ws = await websockets.connect(self.url, **kwargs)
        self._reader = asyncio.create_task(self._read())

    async def connect(self, versions: list[int] | None = None, **open_kwargs: Any) -> dict[str, Any]:
        """Open, say hello and wait for ``welcome``."""
        await self.open(**open_kwargs)
        hello = {"t": "hello", "v": versions or [1], "client": self.client_id, "token": self.token}
        if self.clock_error_ms:
            hello["now"] = self._wall_ms()
        if self.features is not None:
            hello["features"] = self.features
        sent = time.monotonic()
        await self.send(hello)
        await self.wait(lambda: self.welcome is not None or self.close_code is not None)
        assert self.welcome is not None, f"closed {self.close_code} {self.close_reason}"
        # the hub read the hello's ``now`` within this: how far off its measure of our clock may be
        self.hello_rtt_s = time.monotonic() - sent
        return self.welcome

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._reader, 5)

    async def send(self, msg: dict[str, Any]) -> None:
        await self.send_raw(codec.encode(msg))

    async def send_raw(self, data: bytes | str) -> None:
        assert self.ws is not None
        await self.ws.send(data)

    async def wait_closed(self, timeout: float = 5.0) -> int:
        await self.wait(lambda: self.close_code is not None, timeout)
        assert self.close_code is not None
        return self.close_code

    def pause(self) -> None:
        """Stop reading (the socket buffers fill up and the hub sees a slow consumer)."""
        self._reading.clear()

    def resume(self) -> None:
        self._reading.set()

    # ------------------------------------------------------------------ sync

    async def sub(self, coll: str, cursor: list[Any] | None = None, *, wait: bool = True) -> dict[str, Any]:
        """Subscribe and (by default) wait for this sync's ``synced``."""
        sub_id = next(self._sub_ids)
        before = len(self.synced.get(coll, []))
        self._seen[coll] = set()
        self.models.setdefault(coll, {})
        await self.send({"t": "sub", "id": sub_id, "coll": coll, "cursor": cursor})
        if not wait:
            return {}
        await self.wait(lambda: len(self.synced.get(coll, [])) > before or self.close_code is not None)
        return self.synced[coll][-1]

    def docs(self, coll: str) -> dict[str, dict[str, Any]]:
        """Live documents of the local model."""
        return {i: d for i, (_, d) in self.models.get(coll, {}).items() if d is not None}

    def versions(self, coll: str) -> dict[str, int]:
        return {i: v for i, (v, _) in self.models.get(coll, {}).items()}

    # ------------------------------------------------------------------ writes

    def _wall_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.clock_error_ms

    def next_ts(self) -> int:
        self._hlc = max(self._hlc + 1, self._wall_ms() << 16)
        return self._hlc

    def put_op(self, coll: str, doc_id: str, doc: dict[str, Any], base: int | None = None) -> dict[str, Any]:
        self.seq += 1
        return {
            "seq": self.seq,
            "coll": coll,
            "id": doc_id,
            "op": "put",
            "doc": doc,
            "ts": self.next_ts(),
            "base": base,
        }

    def del_op(self, coll: str, doc_id: str, base: int | None = None) -> dict[str, Any]:
        self.seq += 1
        return {
            "seq": self.seq,
            "coll": coll,
            "id": doc_id,
            "op": "del",
            "doc": None,
            "ts": self.next_ts(),
            "base": base,
        }

    async def mut(self, batch: list[dict[str, Any]], timeout: float = 5.0) -> list[dict[str, Any]]:
        await self.send({"t": "mut", "batch": batch})
        try:
            ack = await asyncio.wait_for(self._acks.get(), timeout)
        except TimeoutError:
            seqs = [m.get("seq") for m in batch]
            raise TimeoutError(
                f"{self.client_id}: no ack within {timeout:g}s for the batch of seq {seqs[:3]}..{seqs[-1:]} "
                f"(awaited at {awaited_at()}, close code {self.close_code})"
            ) from None
        results: list[dict[str, Any]] = ack["results"]
        return results

    async def put(self, coll: str, doc_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        return (await self.mut([self.put_op(coll, doc_id, doc)]))[0]

    async def delete(self, coll: str, doc_id: str) -> dict[str, Any]:
        return (await self.mut([self.del_op(coll, doc_id)]))[0]

    # ------------------------------------------------------------------ waiting

    async def barrier(self, timeout: float = 5.0) -> None:
        """Return once the hub has read every frame sent before: it answers a ``ping`` in order."""
        self._ping_n += 1
        n = self._ping_n
        await self.send({"t": "ping", "n": n})
        await self.wait(lambda: any(m.get("t") == "pong" and m.get("n") == n for m in self.received), timeout)

    async def wait(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                last = [m.get("t") for m in self.received[-5:]]
                raise TimeoutError(
                    f"{self.client_id}: condition not reached within {timeout:g}s (awaited at "
                    f"{awaited_at()}; close code {self.close_code}, last frames {last})"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.1))

    # ------------------------------------------------------------------ reader

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            while True:
                await self._reading.wait()
                data = await self.ws.recv()
                if isinstance(data, str):
                    raise AssertionError("the hub sent a text frame")
                self.raw.append(data)
                msg = codec.decode(data)
                if isinstance(msg, list):  # a batch: only sent to a client that takes them
                    assert self.features and "batch" in self.features, "a batch the client did not ask for"
                    assert msg and all(isinstance(m, dict) for m in msg), f"a malformed batch: {msg!r}"
                    self.batches += 1
                    self.batched_frames += len(msg)
                    for one in msg:
                        await self._handle(one)
                else:
                    await self._handle(msg)
                self._changed.set()
                if self.read_rate:
                    await asyncio.sleep(len(data) / self.read_rate)
        except websockets.ConnectionClosed as exc:
            rcvd = exc.rcvd
            self.close_code = rcvd.code if rcvd is not None else 1006
            self.close_reason = rcvd.reason if rcvd is not None else ""
        finally:
            if self.close_code is None:
                self.close_code = 1006
            self._changed.set()

    def _apply(self, coll: str, changes: list[list[Any]], seen: set[str] | None) -> None:
        model = self.models.setdefault(coll, {})
        for doc_id, ver, doc in changes:
            if seen is not None:
                seen.add(doc_id)
            held = model.get(doc_id)
            # as the browser client (client-js/src/core/records.js remoteChange): a document at the
            # version of a held absence replaces it; under a row filter a document the user may
            # not read arrives as an absence with its version, and after new claims at that version
            if held is None or ver > held[0] or (ver == held[0] and doc is not None and held[1] is None):
                model[doc_id] = (ver, doc)

    def _take_cursor(self, coll: str, cursor: list[Any]) -> None:
        held = self.cursors.get(coll)
        if held is None or held[0] != cursor[0] or cursor[1] > held[1]:
            self.cursors[coll] = list(cursor)

    async def _handle(self, msg: dict[str, Any]) -> None:
        self.received.append(msg)
        t = msg["t"]
        if t == "welcome":
            self.welcome = msg
        elif t == "page":
            self._apply(msg["coll"], msg["changes"], self._seen.setdefault(msg["coll"], set()))
        elif t == "synced":
            coll = msg["coll"]
            if msg["reset"]:
                seen = self._seen.get(coll, set())
                model = self.models.setdefault(coll, {})
                for doc_id in [i for i in model if i not in seen]:
                    del model[doc_id]
            self._seen[coll] = set()
            self.cursors[coll] = list(msg["cursor"])
            self.synced.setdefault(coll, []).append(msg)
        elif t == "chg":
            self._apply(msg["coll"], msg["changes"], None)
            self._take_cursor(msg["coll"], msg["cursor"])
        elif t == "resync":
            self.resyncs.append(msg)
            self._seen[msg["coll"]] = set()
        elif t == "ack":
            self._acks.put_nowait(msg)
        elif t == "error":
            self.errors.append(msg)
        elif t == "ping":
            await self.send({"t": "pong", "n": msg["n"]})
