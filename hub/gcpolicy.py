"""How a hub process collects cyclic garbage (``[hub] python_gc``).

Python's collector walks every object of the generation it collects. A full (generation 2)
collection of a hub that holds a thousand connections walks a few hundred thousand objects: 50 to
80 ms with the event loop standing still, every few seconds under load. Those pauses were the tail
of presence latency (docs/benchmarks.md, "Presence").

``"freeze"``: the objects that survive a full collection are moved out of the collector's sight
(:func:`gc.freeze`), so later collections walk only what came after them. Every
:data:`THAW_EVERY_S` everything is put back (:func:`gc.unfreeze`) and one full collection runs
then, which frees the cycles that became garbage among frozen objects (a closed connection's
tasks, protocol and exceptions): the memory held by such garbage is bounded by what a hub makes in
that time, also when the hub falls idle (Python would not collect fully again on its own).
``"default"``: Python's own behaviour.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

#: How often every object is handed back to the collector for one full collection (s).
THAW_EVERY_S = 60.0

MODES = ("freeze", "default")


class FrozenGc:
    """The ``"freeze"`` policy on a running loop: :meth:`start` after start-up, :meth:`stop` at exit."""

    def __init__(self, loop: asyncio.AbstractEventLoop, thaw_every_s: float = THAW_EVERY_S) -> None:
        self.loop = loop
        self.thaw_every_s = thaw_every_s
        self.freezes = 0
        self.thaws = 0
        self._queued = False
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        gc.collect()  # start-up's garbage goes now, not with the first thaw
        gc.freeze()  # what start-up built lives as long as the process
        gc.callbacks.append(self._collected)
        self._timer = self.loop.call_later(self.thaw_every_s, self._thaw)

    def stop(self) -> None:
        if self._collected in gc.callbacks:
            gc.callbacks.remove(self._collected)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _collected(self, phase: str, info: dict[str, Any]) -> None:
        # Not inside the collection: the freeze runs as the loop's next callback (a collection may
        # also run on another thread, hence threadsafe).
        if phase == "stop" and info.get("generation") == 2 and not self._queued:
            self._queued = True
            try:
                self.loop.call_soon_threadsafe(self._freeze)
            except RuntimeError:  # the loop is closed: the process is ending
                self._queued = False

    def _freeze(self) -> None:
        self._queued = False
        gc.freeze()
        self.freezes += 1

    def _thaw(self) -> None:
        # Collect now rather than wait for Python's next full collection: that one runs only once
        # enough new objects survived, so an idle hub kept a burst's closed connections for good.
        # The pause is the one the automatic collection would have made; it freezes again after.
        gc.unfreeze()
        gc.collect()
        self.thaws += 1
        self._timer = self.loop.call_later(self.thaw_every_s, self._thaw)
