"""The mutation worker of one connection: ``mut`` batches applied in order.

The reader hands each :class:`~hub.core.session.ApplyBatch` to :meth:`MutationWorker.put`, which
checks collection-level write permission per mutation and waits while the bounded queue is full
(TCP backpressure on a client that writes faster than the store commits). :meth:`run` applies
the batches through the store, whose transaction runs the row-level check, and answers each with
one ``ack``. Batches that are already waiting when one is taken go into the same store call (one
transaction, up to ``MERGE_MUTATIONS`` mutations): the write rule runs every mutation in order as
it would in separate transactions, so the results are the same, and a client ahead of the store
pays one transaction per queue-full instead of one per ``mut``. A store outage closes the connection
with 4503; the unacknowledged batches are replayed by the client elsewhere.

A mutation of a collection this hub does not serve is answered here, without the store's write
rule (so no dedup record keeps the refusal): 4504, retry later, when another hub of the cluster
has opened the collection (a rolling deploy: this hub is older or newer than that one), else
4404, final (docs/protocol.md, docs/operations.md "Rolling deploys").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from hub.auth.identity import Identity
from hub.authz import AccessPolicy
from hub.core import messages as m
from hub.core.errors import CloseCode, ErrorCode, StoreUnavailable
from hub.core.hlc import client_offset_ms, rebase_ts
from hub.core.session import ApplyBatch
from hub.core.types import CollectionSpec, Doc, Mutation, MutationResult
from hub.metrics import HubMetrics
from hub.server.flag import Flag
from hub.store.base import Store

log = logging.getLogger(__name__)

#: Batches read ahead of the one being applied.
QUEUE_BATCHES = 4
#: At most this many mutations of waiting batches are applied in one store call.
MERGE_MUTATIONS = 2000
CONFLICT_STATUSES = frozenset({"conflict", "rejected", "merged"})


class Outlet(Protocol):
    """Where the worker's answers go (the connection)."""

    def send_control(self, msg: dict[str, Any]) -> None: ...

    def request_close(self, code: int, reason: str) -> None: ...

    def fail(self, exc: BaseException) -> None: ...


class MutationWorker:
    """Apply one connection's batches in order.

    Args:
        store: Where mutations are applied.
        policy: Write permissions and what a conflict answer may show.
        metrics: Mutation, dedup, conflict and store-error counters.
        specs: The collections (their conflict policy labels the conflict counter).
        identity: The connection's current identity (it changes on an ``auth`` refresh).
        outlet: Receives the acks and the close requests.
    """

    __slots__ = (
        "_batches",
        "_client_now",
        "_hello_mono",
        "_room",
        "_task",
        "busy",
        "identity",
        "metrics",
        "offset_ms",
        "outlet",
        "policy",
        "specs",
        "stopped",
        "store",
    )

    def __init__(
        self,
        store: Store,
        policy: AccessPolicy,
        metrics: HubMetrics,
        specs: Mapping[str, CollectionSpec],
        identity: Callable[[], Identity | None],
        outlet: Outlet,
    ) -> None:
        self.store = store
        self.policy = policy
        self.metrics = metrics
        self.specs = specs
        self.identity = identity
        self.outlet = outlet
        # The batches read ahead, the worker task and the reader's wait for room exist only while
        # there are batches: most connections of a hub are idle (docs/benchmarks.md, memory).
        self._batches: list[ApplyBatch] = []
        self._task: asyncio.Task[None] | None = None
        self._room: Flag | None = None
        self.busy = False
        #: The worker failed or the connection closes: batches put now are never applied.
        self.stopped = False
        # The client's clock error (hub.core.hlc.client_offset_ms), from the ``now`` of its hello.
        self.offset_ms = 0
        self._client_now: int | None = None
        self._hello_mono = 0

    def idle(self) -> bool:
        """No batch is being applied and none is waiting."""
        return not self.busy and not self._batches

    async def put(self, eff: ApplyBatch) -> None:
        """Queue a batch (after the collection-level check), starting the worker task when none
        runs; waits while ``QUEUE_BATCHES`` batches are waiting already. Once the worker has
        stopped the batch is dropped: the connection is closing and the client replays it."""
        eff = self.authorize(eff)
        while len(self._batches) >= QUEUE_BATCHES and not self.stopped:
            if self._room is None:
                self._room = Flag()
            self._room.clear()
            await self._room.wait()
        if self.stopped:
            return
        self._batches.append(eff)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ws-mutations")

    def stop(self) -> asyncio.Task[None] | None:
        """The connection is closing: apply nothing more, release a reader waiting for room; the
        worker task, cancelled, to await (None when none runs)."""
        self._halt()
        task = self._task
        if task is not None:
            task.cancel()
        return task

    def _halt(self) -> None:
        self.stopped = True
        self._batches.clear()  # never acknowledged: the client replays them elsewhere
        if self._room is not None:
            self._room.set()

    async def _run(self) -> None:
        """Apply the waiting batches, then end (the next :meth:`put` starts another run); the
        worker stops for good when the store fails."""
        batches = self._batches
        try:
            while batches and not self.stopped:
                effs = [batches.pop(0)]
                size = len(effs[0].slots)
                while batches:
                    nxt = batches[0]
                    if nxt.client != effs[0].client or size + len(nxt.slots) > MERGE_MUTATIONS:
                        break
                    effs.append(batches.pop(0))
                    size += len(nxt.slots)
                if self._room is not None:
                    self._room.set()
                self.busy = True
                try:
                    answers = await self.apply_all(effs)
                except StoreUnavailable as exc:
                    self._halt()
                    # the client replays elsewhere; an operator should still hear why (4503)
                    log.warning("write batch not applied: closing with 4503", extra={"reason": exc.message})
                    self.outlet.request_close(CloseCode.STORE_UNAVAILABLE, exc.message or "store unavailable")
                    self.metrics.store_errors.inc()
                    return
                except Exception as exc:
                    self._halt()
                    self.outlet.fail(exc)
                    return
                finally:
                    self.busy = False
                for results in answers:
                    self.outlet.send_control(m.ack(results))
        finally:
            self._task = None
            if not batches:
                self._room = None

    def authorize(self, eff: ApplyBatch) -> ApplyBatch:
        """Collection-level write permission per mutation (the row-level check runs inside the
        store transaction)."""
        identity = self.identity()
        if identity is None:
            return eff
        slots: list[m.MutationIn | dict[str, Any]] = []
        for s in eff.slots:
            if isinstance(s, m.MutationIn) and s.coll not in self.specs:
                slots.append(s)  # not served here: answered by apply()
            elif isinstance(s, m.MutationIn) and not self.policy.can_write(identity, s.coll):
                log.info("write refused", extra={"coll": s.coll, "seq": s.seq})
                slots.append(m.error_result(s.seq, ErrorCode.FORBIDDEN, "forbidden"))
            else:
                slots.append(s)
        return ApplyBatch(eff.client, tuple(slots))

    async def unserved(self, eff: ApplyBatch) -> ApplyBatch:
        """Answer the mutations of collections this hub does not serve (module doc)."""
        served: dict[str, bool] = {}
        slots: list[m.MutationIn | dict[str, Any]] = []
        for s in eff.slots:
            if not isinstance(s, m.MutationIn) or s.coll in self.specs:
                slots.append(s)
                continue
            if s.coll not in served:
                served[s.coll] = await self.store.served(s.coll)
            if served[s.coll]:
                why = f"collection {s.coll!r} is not served by this hub; retry"
                slots.append(m.error_result(s.seq, ErrorCode.NOT_SERVED_HERE, why))
            else:
                slots.append(
                    m.error_result(s.seq, ErrorCode.UNKNOWN_COLLECTION, f"unknown collection {s.coll!r}")
                )
        return ApplyBatch(eff.client, tuple(slots))

    def client_clock(self, client_now_ms: int | None) -> None:
        """Note the client's wall clock, sent as ``now`` in its hello."""
        self._client_now = client_now_ms
        self._hello_mono = time.monotonic_ns() // 1_000_000
        self.offset_ms = client_offset_ms(client_now_ms, self.store.hub_time_ms())

    def _offset(self) -> int:
        """The correction of this client's timestamps, re-judged at every batch: the hub's idea of
        the fleet's time improves as it reads other hubs' versions (a hub that just started and
        whose clock lags has not seen any yet). It only ever shrinks, so the client's own edits keep
        their order."""
        if self._client_now is None:
            return 0
        client_now = self._client_now + time.monotonic_ns() // 1_000_000 - self._hello_mono
        self.offset_ms = max(self.offset_ms, client_offset_ms(client_now, self.store.hub_time_ms()))
        return self.offset_ms

    async def apply(self, eff: ApplyBatch) -> list[dict[str, Any]]:
        """One result per slot, in slot order."""
        (results,) = await self.apply_all([eff])
        return results

    async def apply_all(self, effs: list[ApplyBatch]) -> list[list[dict[str, Any]]]:
        """Batches of one client in one store call: per batch, one result per slot, in slot order."""
        effs = [await self.unserved(eff) for eff in effs]
        off = self._offset()
        client = effs[0].client
        muts = [
            Mutation(client, s.seq, s.coll, s.id, s.op, s.doc, rebase_ts(s.ts, off) if off else s.ts, s.base)
            for eff in effs
            for s in eff.slots
            if isinstance(s, m.MutationIn)
        ]
        policy, identity = self.policy, self.identity()
        check = None
        if identity is not None:
            bound = identity

            def check(coll: str, doc_id: str, old: Doc | None, new: Doc | None) -> bool:
                return policy.check_write(bound, coll, doc_id, old, new)

        owner = identity.subject if identity is not None else None
        applied = iter(await self.store.apply(client, muts, check=check, owner=owner) if muts else [])
        by_seq = {mu.seq: mu for mu in muts}
        answers: list[list[dict[str, Any]]] = []
        for eff in effs:
            results: list[dict[str, Any]] = []
            for s in eff.slots:
                if isinstance(s, dict):
                    results.append(s)
                    self._count(s.get("s", "error"), False, None)
                    continue
                res: MutationResult = next(applied)
                mu = by_seq.get(res.seq, None)
                if res.s not in ("ok", "error") and res.doc is not None and identity and mu:
                    # a conflict answer never shows a document the client may not read
                    res.doc = policy.readable_doc(identity, mu.coll, mu.id, res.doc)
                if res.s == "error" and res.code == ErrorCode.FORBIDDEN:
                    log.info("write refused by row rule", extra={"coll": s.coll, "seq": s.seq})
                self._count(res.s, res.dup, s.coll)
                results.append(res.to_wire())
            answers.append(results)
        return answers

    def _count(self, status: str, dup: bool, coll: str | None) -> None:
        metrics = self.metrics
        metrics.mutations.labels(str(status)).inc()
        if dup:
            metrics.dedup_hits.inc()
        elif status in CONFLICT_STATUSES and coll is not None:
            spec = self.specs.get(coll)
            policy = spec.policy.value if spec is not None else "?"
            metrics.conflicts.labels(policy, str(status)).inc()
