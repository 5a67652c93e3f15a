"""Fail fast while Ignite is unreachable; one call at a time finds out whether it is back.

pyignite reconnects inside every request that finds none of its nodes alive: each store call then
opens a connection to every node. While a whole cluster restarted, a hub's calls (client writes
and their retries, feeds reopening, presence refreshes) became thousands of connections; a node
recovering its WAL answers each with "Node in recovery mode" and holds each session, with a
direct buffer the size of the socket's send buffer (about 2 MiB here), for up to 10 s: the node ran
out of direct memory and halted (the chaos suite's ``restart-persistent`` profile, 8,000 sessions).

After a call fails because no node could be reached, calls fail at once with
:class:`~hub.core.errors.StoreUnavailable` (what they would have raised after trying) until a
backoff has passed (0.1 s, doubling up to 1 s, with jitter); then one call goes through as the
trial, the others still failing fast. Any answer from a node (even an error) closes the breaker.
A timeout says nothing about reachability (a busy node is not a dead one): it only ends the trial.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from hub.core.errors import StoreUnavailable

FIRST_S = 0.1
MOST_S = 1.0


class Breaker:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.clock = clock
        self.jitter = jitter
        self.delay = 0.0  # 0: closed (calls go through)
        self.until = 0.0  # no call before this while open
        self.trial = False  # a call is finding out whether Ignite is back
        self.refused = 0  # calls failed fast (metrics, tests)

    @property
    def open(self) -> bool:
        return self.delay > 0

    def admit(self) -> bool:
        """Let a call through (True: it is the trial) or raise StoreUnavailable."""
        if not self.delay:
            return False
        now = self.clock()
        if self.trial or now < self.until:
            self.refused += 1
            wait = max(0.0, self.until - now)
            raise StoreUnavailable(f"Ignite unreachable (next connection attempt in {wait:.2f} s)")
        self.trial = True
        return True

    def unreachable(self) -> None:
        """A call found no node to talk to: back off before the next attempt."""
        self.delay = min(MOST_S, self.delay * 2) if self.delay else FIRST_S
        self.until = self.clock() + self.delay * (0.5 + self.jitter() / 2)
        self.trial = False

    def reachable(self) -> None:
        """A node answered (a result or an error of its own): calls go through again."""
        self.delay = 0.0
        self.trial = False

    def done(self, trial: bool) -> None:
        """The call ended (whatever the outcome): a trial that told nothing lets the next one try."""
        if trial:
            self.trial = False
