"""How many Ignite server-side cursors this process holds open, by kind, for ``/metrics``.

A cursor is a resource the Ignite node keeps for the hub until the hub closes it (or the connection
dies): SQL cursors (``sql``), scan cursors (``scan``) and continuous queries (``cq``). A leak shows as
a count that only grows, so every place of the store that opens one does it inside
:meth:`CursorTally.holding`. The tally is per process, like the file descriptors it is read beside
(several stores in one process, as in tests, share it); the event loop is the only writer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final, Literal

Kind = Literal["sql", "scan", "cq"]
KINDS: Final[tuple[Kind, ...]] = ("sql", "scan", "cq")


class CursorTally:
    """Open cursors (``open``) and cursors opened since start (``opened``), per kind."""

    def __init__(self) -> None:
        self.open: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.opened: dict[str, int] = dict.fromkeys(KINDS, 0)

    @contextlib.contextmanager
    def holding(self, kind: Kind) -> Iterator[None]:
        """Count one cursor of ``kind`` open for the body of the ``with`` (enter once it exists)."""
        self.open[kind] += 1
        self.opened[kind] += 1
        try:
            yield
        finally:
            self.open[kind] -= 1


#: The process's tally.
CURSORS: Final = CursorTally()
