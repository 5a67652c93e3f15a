"""A pure in-memory model of hubs, one shared "Ignite" and clients, for the convergence tests.

Everything the real system does with sockets, continuous queries and transactions is a plain
method call here; the sync decisions are the real ones from ``hub.core`` (the write rule ``mutation.apply``,
``plan_sync``, ``Hlc``). The model checks as it goes:

* per-id versions in the store only grow (also across a tombstone purge);
* each mutation ``(client, seq)`` changes the store at most once.

Time is a model clock (``World.now``, ms). Each hub's wall clock is ``now + skew``. Live changes
reach a connected client in any order across ids, in commit order within an id, and never later
than ``max_lag_ms`` after their commit (the bound the catch-up overlap must cover).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from hub.core.conflict import Doc, MergeContext, MergeHook, Policy, Stored
from hub.core.cursor import Cursor, plan_sync
from hub.core.dedup import DedupRecord
from hub.core.doc import doc_hash
from hub.core.hlc import Hlc, pack
from hub.core.mutation import apply
from hub.core.types import CollectionSpec, Mutation

EPOCH = "e1"
COLL = "docs"

Change = tuple[str, int, Doc | None]
Result = dict[str, Any]


def keep_equal_fields(current: Doc | None, incoming: Doc | None, ctx: MergeContext) -> Doc | None:
    """A deterministic merge hook: a delete wins; otherwise the union of both documents, where a
    field the client sent with an equal value keeps the stored value (so ``1`` sent over a stored
    ``1.0`` keeps ``1.0``)."""
    if incoming is None:
        return None
    if current is None:
        return dict(incoming)
    out = dict(current)
    for key, value in incoming.items():
        if not (key in current and current[key] == value):
            out[key] = value
    return out


def same_doc(a: Doc | None, b: Doc | None) -> bool:
    """Equal as the wire and Ignite see it (1, 1.0 and True differ)."""
    return a == b and doc_hash(a) == doc_hash(b)


@dataclass(frozen=True, slots=True)
class Mut:
    client: str
    seq: int
    id: str
    op: Literal["put", "del"]
    doc: Doc | None
    ts: int
    base: int | None


@dataclass
class Ignite:
    """The shared store: data, dedup records and an append-only commit log."""

    data: dict[str, Stored] = field(default_factory=dict)
    dedup: dict[str, DedupRecord] = field(default_factory=dict)
    log: list[Change] = field(default_factory=list)
    floor: int = 0  # tombstones with ver <= floor may have been purged
    high: dict[str, int] = field(default_factory=dict)  # highest version ever stored per id
    effects: Counter[tuple[str, int]] = field(default_factory=Counter)
    judged: set[tuple[str, int]] = field(default_factory=set)  # mutations the write rule has decided


@dataclass
class Hub:
    name: str
    skew_ms: int
    hlc: Hlc = field(default_factory=Hlc)


@dataclass
class Client:
    name: str
    skew_ms: int
    hlc: Hlc = field(default_factory=Hlc)
    server: dict[str, tuple[int, Doc | None]] = field(default_factory=dict)  # confirmed state
    outbox: list[Mut] = field(default_factory=list)
    next_seq: int = 1
    cursor: Cursor | None = None
    connected: bool = False
    inbox: list[tuple[int, Change]] = field(default_factory=list)  # (commit time, change) in flight

    def view(self) -> dict[str, Doc]:
        """What the user sees: the confirmed state with the pending writes on top."""
        docs = {i: d for i, (_, d) in self.server.items() if d is not None}
        for m in self.outbox:
            if m.doc is None:
                docs.pop(m.id, None)
            else:
                docs[m.id] = m.doc
        return docs

    def receive(self, change: Change) -> None:
        """A change from the hub: applied only above the held version (tombstones kept)."""
        id_, ver, doc = change
        held = self.server.get(id_)
        if held is None or ver > held[0]:
            self.server[id_] = (ver, doc)
        self.hlc.observe(ver)

    def acked(self, batch: list[Mut], results: list[Result]) -> None:
        """An ``ack``: the entries leave the outbox; the server state moves to the result's version
        unless the client already holds a newer one (as client-js ``ackWrite`` does)."""
        assert [r["seq"] for r in results] == [m.seq for m in batch]
        done = {m.seq for m in batch}
        self.outbox = [m for m in self.outbox if m.seq not in done]
        for m, r in zip(batch, results, strict=True):
            held = self.server.get(m.id, (0, None))[0]
            if r["ver"] >= held and r["ver"] > 0:
                self.server[m.id] = (r["ver"], m.doc if r["s"] == "ok" else r["doc"])
            self.hlc.observe(r["ver"])


class World:
    def __init__(
        self,
        policy: Policy,
        *,
        hub_skews: list[int],
        client_skews: list[int],
        retained: int,
        overlap_ms: int,
        max_lag_ms: int,
    ) -> None:
        self.policy = policy
        self.merge: MergeHook | None = keep_equal_fields if policy is Policy.MERGE else None
        self.spec = CollectionSpec(COLL, policy=policy, merge=self.merge)
        self.retained = retained
        self.overlap_ms = overlap_ms
        self.max_lag_ms = max_lag_ms
        self.now = 1_000
        self.ignite = Ignite()
        self.hubs = [Hub(f"h{i}", s) for i, s in enumerate(hub_skews)]
        self.clients = [Client(f"c{i}", s) for i, s in enumerate(client_skews)]
        self.acked: list[tuple[int, list[Mut], list[Result]]] = []
        for i in range(len(self.clients)):
            self.reconnect(i, 0)

    # -- store side ---------------------------------------------------------------------------

    def wall(self, hub: Hub) -> int:
        return self.now + hub.skew_ms

    def _commit(self, id_: str, stored: Stored) -> None:
        ig = self.ignite
        assert stored.stamped
        assert stored.ver > ig.high.get(id_, 0), f"version of {id_} went back or repeated"
        ig.high[id_] = stored.ver
        ig.data[id_] = stored
        change = (id_, stored.ver, stored.doc)
        ig.log.append(change)
        for c in self.clients:
            if c.connected:
                c.inbox.append((self.now, change))

    def apply_batch(self, hub: Hub, client: str, batch: list[Mut]) -> list[Result]:
        """``Store.apply``: each mutation in order, with its dedup record, "atomically"."""
        ig = self.ignite
        record = ig.dedup.setdefault(client, DedupRecord())
        results = []
        for m in batch:
            current = ig.data.get(m.id, Stored(None))
            mut = Mutation(client, m.seq, COLL, m.id, m.op, m.doc, m.ts, m.base)
            out = apply(mut, self.spec, current, record, client=client, hlc=hub.hlc, now_ms=self.wall(hub))
            # A replay answer (dup) only for a mutation the rule has decided before: else it is lost.
            lost = out.replayed and (client, m.seq) not in ig.judged
            assert not lost, f"{client}#{m.seq} answered dup, never applied"
            if not out.replayed:
                ig.judged.add((client, m.seq))
            # A store that keeps fewer results than RETAINED_RESULTS (exercises evicted replays).
            record.forget_oldest(len(record) - self.retained)
            if out.stored is not None:
                ig.effects[(client, m.seq)] += 1
                assert ig.effects[(client, m.seq)] == 1, f"{client}#{m.seq} changed the store twice"
                self._commit(m.id, out.stored)
            results.append(out.result.to_wire())
        return results

    def external_write(self, id_: str, doc: Doc | None) -> None:
        """A writer that is not a hub changes the data and leaves it unstamped."""
        current = self.ignite.data.get(id_)
        if current is None and doc is None:
            return
        cur = current or Stored(None)
        self.ignite.data[id_] = Stored(doc, cur.ver, cur.lww, cur.by, stamped=False)

    def feed_stamp(self, h: int) -> None:
        """What a hub's feed does on seeing unstamped data: stamp it as the write rule would."""
        hub = self.hubs[h]
        for id_, st in sorted(self.ignite.data.items()):
            if not st.stamped:
                ver = hub.hlc.next_after(self.wall(hub), st.ver)
                self._commit(id_, Stored(st.doc, ver, ver, "", True))

    def purge(self, retention_ms: int) -> None:
        """Drop tombstones older than ``retention_ms`` and raise the floor."""
        ig = self.ignite
        floor = pack(min(self.wall(h) for h in self.hubs) - retention_ms, 0)
        if floor <= ig.floor:
            return
        ig.floor = floor
        for hub in self.hubs:
            hub.hlc.observe(floor)  # as a hub does when it reads the collection info
        for id_, st in list(ig.data.items()):
            if st.doc is None and st.stamped and st.ver <= floor:
                del ig.data[id_]
        ig.log = [c for c in ig.log if c[1] > floor]

    # -- client side ---------------------------------------------------------------------------

    def write(self, c: int, id_: str, doc: Doc | None) -> None:
        client = self.clients[c]
        ts = client.hlc.now(self.now + client.skew_ms)
        base = client.server.get(id_, (0, None))[0]
        op: Literal["put", "del"] = "put" if doc is not None else "del"
        client.outbox.append(Mut(client.name, client.next_seq, id_, op, doc, ts, base))
        client.next_seq += 1

    def send(self, c: int, h: int, count: int, *, duplicate: bool, lose_ack: bool) -> None:
        client = self.clients[c]
        if not client.connected or not client.outbox:
            return
        batch = client.outbox[: max(1, count)]
        hub = self.hubs[h]
        results = self.apply_batch(hub, client.name, batch)
        if duplicate:  # the frame arrived twice: the second copy must change nothing
            before = self._snapshot()
            again = self.apply_batch(hub, client.name, batch)
            assert self._snapshot() == before
            self._check_replay(batch, results, again)
        if lose_ack:  # the socket died before the ack arrived
            self.drop(c)
            return
        client.acked(batch, results)
        self.acked.append((c, batch, results))

    def send_ahead(self, c: int, h: int, skip: int, count: int) -> None:
        """Later writes reach a hub before earlier ones (held back, then sent on another connection):
        the outbox after its first ``skip`` entries, leaving out writes of the documents those hold
        (a client never sends a write ahead of an earlier one of the same document)."""
        client = self.clients[c]
        held = client.outbox[:skip]
        ids = {m.id for m in held}
        batch = [m for m in client.outbox[skip:] if m.id not in ids][: max(1, count)]
        if not client.connected or not held or not batch:
            return
        results = self.apply_batch(self.hubs[h], client.name, batch)
        client.acked(batch, results)
        self.acked.append((c, batch, results))

    def replay_acked(self, pick: int, h: int) -> None:
        """A client resends a batch it already had acknowledged: nothing may change."""
        if not self.acked:
            return
        c, batch, original = self.acked[pick % len(self.acked)]
        before = self._snapshot()
        again = self.apply_batch(self.hubs[h], self.clients[c].name, batch)
        assert self._snapshot() == before
        self._check_replay(batch, original, again)
        self.clients[c].acked(batch, again)

    def _check_replay(self, batch: list[Mut], original: list[Result], again: list[Result]) -> None:
        for m, r1, r2 in zip(batch, original, again, strict=True):
            assert r2["dup"] is True
            current = self.ignite.data.get(m.id, Stored(None))
            if r2["s"] == "dup":  # evicted or stale: the current document
                assert (r2["ver"], r2["doc"]) == (current.ver, current.doc)
            else:  # the original outcome, still current
                assert r2["ver"] == current.ver
                if r1["s"] != "dup":
                    assert r2 == {**r1, "dup": True}

    def _snapshot(self) -> tuple[dict[str, Stored], int]:
        return dict(self.ignite.data), len(self.ignite.log)

    def deliver(self, c: int, pick: int) -> None:
        """Deliver one in-flight change, any id first, but never overtaking one of the same id."""
        client = self.clients[c]
        seen: set[str] = set()
        eligible = []
        for i, (_, change) in enumerate(client.inbox):
            if change[0] not in seen:
                eligible.append(i)
                seen.add(change[0])
        if eligible:
            self._deliver_at(client, eligible[pick % len(eligible)])

    def _deliver_at(self, client: Client, index: int) -> None:
        _, change = client.inbox.pop(index)
        client.receive(change)
        assert client.cursor is not None
        client.cursor = (client.cursor[0], max(client.cursor[1], change[1]))

    def tick(self, ms: int) -> None:
        self.now += ms
        for client in self.clients:
            while client.inbox and client.inbox[0][0] < self.now - self.max_lag_ms:
                self._deliver_at(client, 0)

    def drop(self, c: int) -> None:
        client = self.clients[c]
        client.connected = False
        client.inbox.clear()

    def reconnect(self, c: int, h: int) -> None:
        """``sub`` with the client's cursor: snapshot or catch-up, then live."""
        client = self.clients[c]
        if client.connected:
            return
        ig = self.ignite
        plan = plan_sync(client.cursor, EPOCH, ig.floor, self.overlap_ms)
        high = max(ig.high.values(), default=0)
        if plan.mode == "snapshot":
            client.server = {
                i: (st.ver, st.doc) for i, st in ig.data.items() if st.doc is not None and st.ver
            }
            client.cursor = (EPOCH, high)
        else:
            assert client.cursor is not None
            sent = sorted((ch for ch in ig.log if ch[1] > plan.after), key=lambda ch: ch[1])
            for change in sent:
                client.receive(change)
            client.cursor = (EPOCH, max([client.cursor[1]] + [ch[1] for ch in sent]))
        client.connected = True

    # -- quiescence ------------------------------------------------------------------------------

    def quiesce(self) -> None:
        """No more faults: stamp external writes, flush every outbox, deliver every change."""
        self.feed_stamp(0)
        for c, client in enumerate(self.clients):
            self.reconnect(c, 0)
            while client.outbox:
                self.send(c, 0, len(client.outbox), duplicate=False, lose_ack=False)
        for client in self.clients:
            while client.inbox:
                self._deliver_at(client, 0)

    def check_converged(self) -> None:
        ig = self.ignite
        assert all(st.stamped for st in ig.data.values())
        stored = {i: st.doc for i, st in ig.data.items() if st.doc is not None}
        for client in self.clients:
            assert not client.outbox
            view = client.view()
            assert sorted(view) == sorted(stored), client.name
            for id_, doc in stored.items():
                assert same_doc(view[id_], doc), (client.name, id_, view[id_], doc)
                assert client.server[id_][0] == ig.data[id_].ver, (client.name, id_)
