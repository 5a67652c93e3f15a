"""The JavaScript clients of the chaos suite: ``client-js/test/chaos/driver.mjs`` hosts real
``SyncClient`` objects (fake-indexeddb, the ``ws`` package) in one Node process, driven over
stdin/stdout with one JSON object per line. This is its Python end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPT = REPO_ROOT / "client-js" / "test" / "chaos" / "driver.mjs"


class DriverError(RuntimeError):
    """A command the driver answered with ``ok: false``."""


class Driver:
    def __init__(self, log: IO[bytes] | None = None, env: dict[str, str] | None = None) -> None:
        self._env = env or {}
        self._proc: asyncio.subprocess.Process | None = None
        self._next = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._log = log

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            "node",
            str(SCRIPT),
            cwd=REPO_ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._log if self._log is not None else asyncio.subprocess.DEVNULL,
            limit=64 * 1024 * 1024,
            env={**os.environ, "NODE_NO_WARNINGS": "1", **self._env},
        )
        self._reader = asyncio.ensure_future(self._read())
        await self.call("ping")

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while True:
            line = await self._proc.stdout.readline()
            if not line:
                break
            msg = json.loads(line)
            fut = self._waiting.pop(int(msg.get("id", -1)), None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
        err = RuntimeError(f"chaos driver exited with {await self._proc.wait()}")
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(err)
        self._waiting.clear()

    async def call(self, cmd: str, timeout: float = 60.0, **args: Any) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdin is not None
        if self._proc.returncode is not None:
            raise RuntimeError(f"chaos driver exited with {self._proc.returncode}")
        self._next += 1
        rid = self._next
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        self._proc.stdin.write((json.dumps({"id": rid, "cmd": cmd, **args}) + "\n").encode())
        await self._proc.stdin.drain()
        try:
            msg = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            self._waiting.pop(rid, None)
            raise TimeoutError(
                f"chaos driver: {cmd} {args.get('client', '')} not answered in {timeout:g}s"
            ) from None
        if not msg.get("ok"):
            raise DriverError(f"{cmd} {args.get('client', '')}: {msg.get('error')}")
        return msg

    async def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.returncode is None:
            with contextlib.suppress(Exception):
                await self.call("quit", timeout=15)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._proc.wait(), 5)
            if self._proc.returncode is None:
                self._proc.kill()
                await self._proc.wait()
        if self._reader is not None:
            with contextlib.suppress(BaseException):
                await self._reader
        self._proc = None
