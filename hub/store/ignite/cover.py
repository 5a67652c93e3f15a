"""Coverage lease: a hub whose feed joins one that already covers the collection skips the opening pass.

A feed *covers* its collection once every write committed before its continuous query started has
been reconciled (the opening pass ran to its end) and every event it has received since has been
stamped. While one hub's feed covers a collection, nothing another hub's opening pass could find is
unstamped, so reading the whole collection again is waste: with n hubs and m collections every
restart of a hub used to read n·m collections' data.

One covering feed holds ``cover/<coll>`` in ``synchub_sys``: ``"<feed id> <n>"``, written with an
Ignite expiry (:data:`LEASE_TTL_S`, the server's clock, not a hub's). It renews it every
:data:`RENEW_S` by replacing ``n`` with ``n + 1``, and only when its continuous query is healthy and
every event it has received is stamped (:meth:`Lease.renew`). A feed that loses its query
stops renewing and removes the lease; a hub that dies stops renewing, and the lease expires.

A feed that opens and finds another's lease waits (live events flow meanwhile) until the holder
renews it :data:`CONFIRMATIONS` times: the holder's query was alive, and had stamped everything it
had received, at least one renewal interval after this feed's query started; writes committed
before that start were delivered to the holder. Then it skips the pass and covers too. Without a
lease, with a lease that is not renewed within :data:`WAIT_S`, or on the first open after this
hub's own feed of the collection was lost, it runs the whole pass.

What this trusts: an event delivered to a live query is stamped by the holder unless it dies in the
renewal interval with the event unprocessed; the background sweep repairs that case within its
cycle (docs/sync-model.md).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from datetime import timedelta
from typing import Any

from pyignite.datatypes import String  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes.expiry_policy import ExpiryPolicy  # type: ignore[import-untyped,unused-ignore]

from hub.store.ignite.tx import Context

log = logging.getLogger(__name__)

#: The holder renews the lease this often (s) ...
RENEW_S = 2.0
#: ... Ignite drops it this long (s) after the last renewal ...
LEASE_TTL_S = 10.0
#: ... a joining feed waits for this many renewals after its query started (about 4 s) ...
CONFIRMATIONS = 2
#: ... for at most this long (s), looking every POLL_S, before it runs the whole opening pass (a busy
#: holder renews late, a stalled one not at all).
WAIT_S = 10.0
POLL_S = 0.25


def cover_key(coll: str) -> str:
    return f"cover/{coll}"


def parse_holder(value: Any) -> tuple[str, int] | None:
    if not isinstance(value, str):
        return None
    feed, _, n = value.partition(" ")
    return (feed, int(n)) if n.isdigit() else None


class Lease:
    """One feed's view of ``cover/<coll>``: waiting to trust a holder, then holding or renewing it."""

    def __init__(self, ctx: Context, coll: str) -> None:
        self.ctx = ctx
        self.coll = coll
        self.key = cover_key(coll)
        self.feed = secrets.token_hex(6)
        self.held: str | None = None  # the value this feed last wrote
        self.covering = False  # the opening pass ran to its end, or a holder was confirmed
        self.busy = False  # events received and not yet stamped
        self._seen: tuple[str, int] | None = None  # the other holder's value when this feed opened
        self._deadline = 0.0
        self._next_poll = 0.0
        self._last_renew = 0.0
        self._leased: Any = None  # synchub_sys with the lease's expiry policy

    def _sys(self) -> Any:
        # One per lease: pyignite (0.6.1) forgets the cache's partition map whenever a cache object
        # is made, and the next request fetches all 1,024 partitions again (bench/reconcile.py).
        if self._leased is None:
            ttl = timedelta(seconds=LEASE_TTL_S)
            self._leased = self.ctx.sys.with_expire_policy(ExpiryPolicy(create=ttl, update=ttl))
        return self._leased

    async def begin(self) -> bool:
        """Call after the query started: True when another feed holds the lease (worth waiting for)."""
        self._seen = parse_holder(await self.ctx.call(lambda: self.ctx.sys.get(self.key)))
        self._deadline = time.monotonic() + WAIT_S
        self._next_poll = time.monotonic() + POLL_S
        return self._seen is not None

    async def confirmed(self) -> bool | None:
        """Poll (at most every POLL_S): True when the holder renewed CONFIRMATIONS times since
        :meth:`begin`, False when it will not be trusted (gone, replaced, too slow), None: not yet."""
        seen = self._seen
        if seen is None:
            return False
        now = time.monotonic()
        if now < self._next_poll:
            return None
        self._next_poll = now + POLL_S
        value = parse_holder(await self.ctx.call(lambda: self.ctx.sys.get(self.key)))
        if value is None or value[0] != seen[0]:
            return False
        if value[1] >= seen[1] + CONFIRMATIONS:
            return True
        return False if now >= self._deadline else None

    async def renew(self, healthy: bool) -> None:
        """Take the lease when nobody holds it, renew it when this feed does: only while it covers,
        its query is ``healthy`` (not lost, nothing buffered) and every event received is stamped."""
        now = time.monotonic()
        if not (self.covering and healthy and not self.busy) or now - self._last_renew < RENEW_S:
            return
        self._last_renew = now
        sys = self._sys()
        if self.held is None:
            value = f"{self.feed} 0"
            if await self.ctx.call(lambda: sys.put_if_absent(self.key, value, value_hint=String)):
                self.held = value
                log.info("collection %s: this hub's feed covers it (lease %s)", self.coll, self.feed)
            return
        n = int(self.held.partition(" ")[2]) + 1
        value = f"{self.feed} {n}"
        if await self.ctx.call(lambda: sys.replace_if_equals(self.key, self.held, value, value_hint=String)):
            self.held = value
        else:
            self.held = None  # expired (this hub stalled) or taken: try again as a newcomer

    async def release(self) -> None:
        """Drop the lease (the feed closes or was lost); best effort: it expires anyway."""
        held, self.held, self.covering = self.held, None, False
        if held is not None and self.ctx.connected is not None:
            with contextlib.suppress(Exception):
                await self.ctx.call(lambda: self.ctx.sys.remove_if_equals(self.key, held), timeout=2.0)
