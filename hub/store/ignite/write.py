"""The write path: a client's batch of mutations in one transaction with its dedup record.

Per batch, one OPTIMISTIC SERIALIZABLE transaction reads the client's dedup record and the data and meta
rows of the batch's documents, runs every mutation in order through the write rule
(:func:`hub.core.mutation.apply`, the same code the memory store and the model run), writes data, meta
and the dedup record together and commits (docs/sync-model.md §2). A batch made only of replays writes
nothing. Conflicting commits (another hub on the same keys or the same client) are retried
(:func:`~.tx.retry_conflicts`).
"""

from __future__ import annotations

import hashlib
import logging
import sys
from array import array
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from pyignite.datatypes import ByteArrayObject  # type: ignore[import-untyped,unused-ignore]

from hub import codec
from hub.core import mutation
from hub.core.conflict import Stored
from hub.core.dedup import DedupRecord, record_key
from hub.core.doc import doc_hash
from hub.core.mutation import Encode
from hub.core.types import Doc, Mutation, MutationResult, WriteCheck
from hub.store.ignite.closed import observe as observe_closed
from hub.store.ignite.encode import string_key
from hub.store.ignite.moves import move
from hub.store.ignite.moves import record as record_moves
from hub.store.ignite.read import get_all as fast_get_all
from hub.store.ignite.schema import Coll, MetaRow, meta_value, register_meta
from hub.store.ignite.tx import Contended, Context, retry_conflicts, together
from hub.store.ignite.values import plain_doc
from hub.store.ignite.wire import put_all

log = logging.getLogger(__name__)


#: Conflicting attempts of a batch of several mutations before it is applied in two halves.
SPLIT_AFTER = 3
#: Conflicting attempts of one mutation alone (about 6 s of back-off): a hot document, not an outage.
ALONE_ATTEMPTS = 32


async def apply(
    ctx: Context,
    colls: Mapping[str, Coll],
    client: str,
    batch: Sequence[Mutation],
    check: WriteCheck | None,
    owner: str | None = None,
) -> list[MutationResult]:
    """``Store.apply``: the batch in one transaction, retried while it conflicts."""
    return await ctx.call(lambda: _apply_contended(ctx, colls, client, batch, check, owner))


async def _apply_contended(
    ctx: Context,
    colls: Mapping[str, Coll],
    client: str,
    batch: Sequence[Mutation],
    check: WriteCheck | None,
    owner: str | None,
) -> list[MutationResult]:
    """The batch in one transaction; one that keeps conflicting with other writers is applied in two
    halves, one after the other, each split again while it conflicts.

    Why: a big batch (waiting batches merged, hub/server/mutations.py) over keys that other writers
    commit to conflicts again on every retry, and used to give up with 4503: overload reported as an
    outage (soak, 4 writers over 500 documents). Halves conflict less, and one mutation alone gets
    many attempts. Exactly once holds: each half reads the dedup record the previous one committed,
    and a client that replays the batch after a failure finds the halves that committed answered
    ``dup``. Order holds: the halves commit in order."""
    try:
        return await retry_conflicts(
            lambda: _apply_once(ctx, colls, client, batch, check, owner),
            refused="Ignite refused the batch",
            gave_up="batch not applied",
            attempts=SPLIT_AFTER if len(batch) > 1 else ALONE_ATTEMPTS,
        )
    except Contended:
        if len(batch) == 1:
            raise
    mid = len(batch) // 2
    first = await _apply_contended(ctx, colls, client, batch[:mid], check, owner)
    return first + await _apply_contended(ctx, colls, client, batch[mid:], check, owner)


# A record as written by this hub: a msgpack map {last, oks, res}: ``oks`` holds the plain "ok"
# results as one binary value, their seqs (ascending) then their versions as int64 arrays, copied
# with C loops whatever their number; ``res`` every other result, as earlier hubs wrote all of them.
# An earlier hub reads such a record as one without its plain results: it answers their replays
# with a bare ``dup`` (applied, result not kept), never applies them again.


def load_record(raw: bytes | None) -> DedupRecord:
    """A client's dedup record as stored by :func:`dump_record` (or by earlier hubs)."""
    plain = codec.decode(bytes(raw)) if raw is not None else None
    if not plain:
        return DedupRecord()
    other = {int(seq): dict(res) for seq, res in plain.get("res") or ()}
    packed = plain.get("oks")
    if isinstance(packed, bytes):
        n = len(packed) // 16
        seqs, vers = array("q"), array("q")
        seqs.frombytes(packed[: 8 * n])
        vers.frombytes(packed[8 * n : 16 * n])
        if sys.byteorder != "little":
            seqs.byteswap()
            vers.byteswap()
        oks = dict(zip(seqs, vers, strict=True))
        return DedupRecord.in_order(int(plain["last"]), oks, other, plain.get("gaps") or ())
    results: dict[int, dict[str, Any]] = {}
    it = iter(plain.get("ok") or ())  # the flat [seq, ver, ...] list of the hubs before
    for seq, ver in zip(it, it, strict=True):
        results[int(seq)] = {"seq": int(seq), "s": "ok", "ver": int(ver)}
    results.update(other)
    return DedupRecord.of(int(plain["last"]), results, plain.get("gaps") or ())


def dump_record(record: DedupRecord) -> bytes:
    """Serialise a dedup record for :func:`load_record`."""
    record.sort()
    seqs, vers = array("q", record.oks.keys()), array("q", record.oks.values())
    if sys.byteorder != "little":
        seqs.byteswap()
        vers.byteswap()
    res = [[s, r] for s, r in record.other.items()]
    plain: dict[str, Any] = {"last": record.last_seq, "oks": seqs.tobytes() + vers.tobytes(), "res": res}
    if record.gaps:  # (earlier hubs ignore the key: they answer a late seq below ``last`` with dup)
        plain["gaps"] = record.gaps
    return codec.encode(plain)


@dataclass(slots=True)
class _Slot:
    """A key's state as seen (and changed) by the running transaction."""

    doc: dict[str, Any] | None
    meta: MetaRow | None
    dirty: bool = False
    obj: Any = None  # binary object to put when dirty and doc is not None
    # the state read in the transaction, before the batch: what the new version's move is from
    orig: tuple[dict[str, Any] | None, MetaRow | None] = (None, None)
    # the meta row describes the data (hashed once: a slot may see many mutations of one batch)
    stamped: bool = True

    def __post_init__(self) -> None:
        self.orig = (self.doc, self.meta)
        meta = self.meta
        self.stamped = self.doc is None if meta is None else meta.h == doc_hash(self.doc)

    def current(self) -> Stored:
        """The stored document as the write rule sees it."""
        meta = self.meta
        if meta is None:
            return Stored(self.doc, 0, 0, "", self.stamped)
        return Stored(self.doc, meta.ver, meta.lww, meta.by, self.stamped)

    def keep(self, stored: Stored, value: Any) -> None:
        """Take the write rule's new state; ``value`` (the encoded data) is None for a stamp only."""
        doc = None if stored.doc is None else dict(stored.doc)
        self.doc, self.obj, self.dirty, self.stamped = doc, value, True, True
        self.meta = MetaRow(stored.ver, stored.lww, stored.by, doc_hash(doc), doc is None)


@dataclass(slots=True)
class _Tx:
    slots: dict[tuple[str, str], _Slot] = field(default_factory=dict)
    floors: dict[str, int] = field(default_factory=dict)
    changed: bool = False


async def _apply_once(
    ctx: Context,
    colls: Mapping[str, Coll],
    client_id: str,
    batch: Sequence[Mutation],
    check: WriteCheck | None = None,
    owner: str | None = None,
) -> list[MutationResult]:
    key = record_key(owner, client_id)
    async with ctx.transaction() as tx:
        state = _Tx()
        # The reads go out together: one wait for the store instead of four (a busy hub's loop makes
        # every wait long). Each enlists its keys whatever order Ignite serves them in.
        raw, state.floors, _ = await together(
            ctx.dedup.get(key),
            # Stamp above the collections' watermarks (an advance before the commit makes it retry),
            # and the floors: the write rule never lets a purged delete be undone (mutation.py).
            observe_closed(ctx, dict.fromkeys(m.coll for m in batch if m.coll in colls)),
            _prefetch(colls, state, batch),
        )
        if raw is None and key != client_id:
            # A record from before records were per subject: written by this client's own earlier
            # batches (nothing writes that key any more), so its replays stay exactly once.
            raw = await ctx.dedup.get(client_id)
        record = load_record(raw)
        last_before = record.last_seq
        results = [await _apply_one(ctx, colls, state, record, client_id, m, check) for m in batch]
        if state.changed:
            put_record = partial(ctx.dedup.put, key, dump_record(record), value_hint=ByteArrayObject)
            written = await _flush(ctx, colls, state, put_record)
            pending = ctx.recent.pending(written)  # before the commit: see recent.py
            committed = False
            try:
                await tx.commit()
                committed = True
            finally:
                ctx.recent.settle(pending, committed)
            if ctx.log_writes:
                _log_batch(key, last_before, record, batch, results)
        elif state.slots:
            # Only replays, answered with documents as read: committing makes Ignite check that
            # nothing read changed since. The data and meta rows are read at the same time, so a
            # write committing between the two reads would pair its version with the older
            # document; the client would then hold that version and ignore the newer document
            # for good. A conflict retries the batch, which reads both rows again.
            await tx.commit()
        else:
            await tx.rollback()
    return results


async def _prefetch(colls: Mapping[str, Coll], state: _Tx, batch: Sequence[Mutation]) -> None:
    wanted: dict[str, dict[str, None]] = {}
    for m in batch:
        if m.coll in colls:
            wanted.setdefault(m.coll, {})[m.id] = None
    reads = []
    for name, id_set in wanted.items():
        c = colls[name]
        keys = [string_key(i) for i in id_set]  # pre-serialised: pyignite's String writer is slow
        reads += [fast_get_all(c.data, keys), fast_get_all(c.meta, keys)]
    found = iter(await together(*reads))
    for name, id_set in wanted.items():
        data, metas = next(found), next(found)
        for i in id_set:
            state.slots[(name, i)] = _Slot(plain_doc(data.get(i)), MetaRow.from_ignite(metas.get(i)))


async def _slot(colls: Mapping[str, Coll], state: _Tx, coll: str, key: str) -> _Slot:
    slot = state.slots.get((coll, key))
    if slot is None:
        c = colls[coll]
        slot = _Slot(plain_doc(await c.data.get(key)), MetaRow.from_ignite(await c.meta.get(key)))
        state.slots[(coll, key)] = slot
    return slot


async def _apply_one(
    ctx: Context,
    colls: Mapping[str, Coll],
    state: _Tx,
    record: DedupRecord,
    client_id: str,
    m: Mutation,
    check: WriteCheck | None,
) -> MutationResult:
    """One mutation through the write rule (:func:`hub.core.mutation.apply`), kept in its slot."""
    if m.seq < record.last_seq and record.missing(m.seq):
        # Applied now, after later seqs of its client (dedup.py): rare, worth seeing in the logs.
        log.info(
            "mutation arrived after later ones",
            extra={"client": client_id, "seq": m.seq, "last": record.last_seq},
        )
    c = colls.get(m.coll)
    if c is None:
        outcome = mutation.apply(
            m, None, Stored(None), record, client=client_id, hlc=ctx.hlc, now_ms=ctx.fleet_ms()
        )
    else:
        slot = await _slot(colls, state, m.coll, m.id)
        refreshed = False
        while True:
            try:
                outcome = mutation.apply(
                    m,
                    c.spec,
                    slot.current(),
                    record,
                    client=client_id,
                    hlc=ctx.hlc,
                    now_ms=ctx.fleet_ms(),
                    check=check,
                    encode=_encoder(c, ctx.client.compact_footer, refreshed),
                    floor=state.floors.get(m.coll, 0),
                )
                break
            except _FieldsUnknown:
                # Another hub or application may have registered these fields with their types.
                await c.vtype.refresh(ctx.client)
                refreshed = True
        if outcome.stored is not None:
            slot.keep(outcome.stored, outcome.value)
    if not outcome.replayed:
        state.changed = True  # a new seq: its result goes into the dedup record
    return outcome.result


def _log_batch(
    key: str, last_before: int, record: DedupRecord, batch: Sequence[Mutation], results: list[MutationResult]
) -> None:
    """``[hub] log_writes``: what one committed transaction did, enough to tell from the logs of
    every hub how a client's seq was applied (the dedup key is hashed: it names the subject)."""
    log.info(
        "write batch committed",
        extra={
            "client": batch[0].client if batch else "",
            "record": hashlib.blake2b(key.encode(), digest_size=8).hexdigest(),
            "last_before": last_before,
            "last_after": record.last_seq,
            "gaps": len(record.gaps),
            "applied": [[r.seq, m.coll, m.id, r.s] for m, r in zip(batch, results, strict=True) if not r.dup],
            "replays": [r.seq for r in results if r.dup],
        },
    )


class _FieldsUnknown(Exception):
    """The document has fields this hub's value type does not know yet: refresh it, run the rule again."""


def _encoder(c: Coll, compact: bool, refreshed: bool) -> Encode:
    """The write rule's ``encode`` for ``c``: coerced to the binary type, serialised for pyignite."""

    def encode(doc: Doc) -> tuple[Doc, Any]:
        if not refreshed and c.vtype.unknown(doc):
            raise _FieldsUnknown
        obj, stored = c.vtype.encode_raw(doc, compact)
        return stored, obj

    return encode


async def _flush(
    ctx: Context, colls: Mapping[str, Coll], state: _Tx, record_put: Callable[[], Awaitable[Any]]
) -> list[tuple[str, str, int, int]]:
    """Write the dirty slots and the dedup record (``record_put``), the puts sent together once the
    types they need are registered; returns ``(cache, key, H, VER)`` of the documents put."""
    by_coll: dict[str, list[tuple[str, _Slot]]] = {}
    for (coll, key), slot in state.slots.items():
        if slot.dirty:
            by_coll.setdefault(coll, []).append((key, slot))
    written: list[tuple[str, str, int, int]] = []
    if by_coll:
        await register_meta(ctx)
    writes: list[Callable[[], Awaitable[Any]]] = [record_put]
    for coll, items in by_coll.items():
        c = colls[coll]
        puts = {string_key(k): s.obj for k, s in items if s.obj is not None}
        removes = [string_key(k) for k, s in items if s.doc is None]
        if puts:
            await c.vtype.register(ctx.client, ctx.types_token)
            writes.append(partial(put_all, c.data, puts))
        if removes:
            writes.append(partial(c.data.remove_keys, removes))
        metas = {k: s.meta for k, s in items if s.meta is not None}
        if c.moves is not None:
            fp = c.moves.fp
            metas = {k: replace(row, fp=fp) for k, row in metas.items()}
            found = ((k, s, move(c.moves, *s.orig, True, s.doc)) for k, s in items if s.meta is not None)
            await record_moves(ctx, c.moves, ((k, metas[k].ver, mv) for k, _, mv in found if mv))
        rows = {string_key(k): meta_value(ctx, row) for k, row in metas.items()}
        writes.append(partial(put_all, c.meta, rows))
        # Only data puts: each fires exactly one CQ event of its own (a remove of an absent key or a
        # stamp of unchanged data may fire none, and an unconsumed entry could outlive its use).
        cache = c.spec.cache_name
        put_ids = [k for k, s in items if s.obj is not None and k in metas]
        written.extend((cache, k, metas[k].h, metas[k].ver) for k in put_ids)
    await together(*(w() for w in writes))
    return written
