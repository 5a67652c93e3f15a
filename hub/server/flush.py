"""One turn of the event loop's worth of outgoing frames, written to the sockets together.

A writer with frames queued asks for a flush instead of starting a task of its own: a broadcast to
1,000 subscribers then costs one scheduled callback, not 1,000 tasks, and every frame queued for a
connection in the same turn (a burst, several collections) leaves in one message to a client that
takes batches (hub/server/writer.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

log = logging.getLogger(__name__)


class Flushable(Protocol):
    def flush(self) -> None: ...


class Flusher:
    """The writers due for a flush, flushed once the running callbacks of this turn are done."""

    __slots__ = ("_due", "_loop")

    def __init__(self) -> None:
        self._due: list[Flushable] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def want(self, writer: Flushable) -> None:
        """Flush ``writer`` soon (the caller asks once until its flush runs)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # First use, or another loop (tests run one per test): nothing of the old one will run.
            self._loop, self._due = loop, []
        self._due.append(writer)
        if len(self._due) == 1:
            loop.call_soon(self._run)

    def _run(self) -> None:
        due, self._due = self._due, []
        for writer in due:
            try:
                writer.flush()
            except Exception:  # one connection's failure must not strand the others' frames
                log.exception("flush failed")


#: The process's flusher (a hub runs one event loop).
FLUSHER = Flusher()
