"""Moves of a collection with declared fields: what a subset's catch-up removes (docs/sync-model.md §7).

A *move* is a change whose declared field values differ from those of the document's previous
version, or a delete. Per move the hub keeps one row in the collection's moves table
``PUBLIC.SYNCHUB_MOVES_<D'>`` (cache ``synchub_moves_<D>``, key ``<ver>:<id>``): ``DOC``, ``VER``,
``FP`` (the declared fields' fingerprint it was recorded under), ``UNK`` (the previous values are not
known: then it counts as matching every filter) and ``P_<field>``, the value the field had at the
previous version. The row is written in the transaction that writes the version: a client write
(write.py, which read the previous data and meta row in it) or a stamp (stamp.py, with the value a
continuous-query event says the data had before, accepted only when its hash is the meta row's ``H``).

Every meta row written by a hub that records moves carries ``FP``; a row without it (an older hub
during a rolling deploy, or written before the fields were declared) is not covered: a catch-up
treats it as today (removal unless it matches), and a hub writing over it records ``UNK``.

A catch-up from cursor ``C`` removes the documents with a move above ``C`` whose previous values
matched the filter (or ``UNK``), and those whose meta row above ``C`` lacks ``FP``, when they do not
match now (or are deleted). Moves are purged with the tombstones' retention; the highest purged
version is ``mfloor/<coll>`` in ``synchub_sys``, and a cursor below it catches up the old way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pyignite import GenericObjectMeta  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes import BoolObject, DoubleObject, LongObject, String  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes.cache_config import (  # type: ignore[import-untyped,unused-ignore]
    CacheAtomicityMode,
    WriteSynchronizationMode,
)
from pyignite.datatypes.prop_codes import (  # type: ignore[import-untyped,unused-ignore]
    PROP_BACKUPS_NUMBER,
    PROP_CACHE_ATOMICITY_MODE,
    PROP_NAME,
    PROP_PARTITION_LOSS_POLICY,
    PROP_QUERY_ENTITIES,
    PROP_SQL_SCHEMA,
    PROP_WRITE_SYNCHRONIZATION_MODE,
)

from hub.core.doc import doc_hash
from hub.core.errors import RetentionPassed
from hub.core.query import Filter
from hub.core.subsets import fits
from hub.core.types import Change, CollectionSpec
from hub.store.ignite.fields import JAVA_TYPES, FieldTable, data_table_name
from hub.store.ignite.read import data_for, get_all, sql
from hub.store.ignite.schema import MetaRow, ver_index
from hub.store.ignite.subset import sql_arg, where

_HINTS = {"string": String, "long": LongObject, "double": DoubleObject, "bool": BoolObject}
Values = tuple[Any, ...]


def fingerprint(spec: CollectionSpec) -> int:
    """The declared fields as a positive 63-bit number: moves recorded under other fields do not count."""
    raw = hashlib.blake2b(repr(sorted(spec.fields)).encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big") >> 1 or 1


def mfloor_key(coll: str) -> str:
    return f"mfloor/{coll}"


@dataclass(slots=True)
class Moves:
    """A collection's moves table, once opened (``IgniteStore.ensure_collection``)."""

    cache: Any
    table: str
    fields: FieldTable  # P_<field> columns, for hub.store.ignite.subset.where
    kinds: dict[str, str]
    fp: int
    row_type: Any
    registered: Any = None

    def values(self, doc: Mapping[str, Any] | None) -> Values | None:
        """The document's declared values (None: one does not fit its column, treat as unknown)."""
        if doc is None:
            return None
        out = []
        for name, kind in self.kinds.items():
            v = doc.get(name)
            if not fits(kind, v):
                return None
            out.append(None if v is None else sql_arg(kind, v))
        return tuple(out)


def cache_config(spec: CollectionSpec, backups: int, loss_policy: Any) -> dict[int, Any]:
    table = "SYNCHUB_MOVES_" + data_table_name(spec.cache_name)
    return {
        PROP_NAME: f"synchub_moves_{spec.cache_name}",
        PROP_SQL_SCHEMA: "PUBLIC",
        PROP_CACHE_ATOMICITY_MODE: CacheAtomicityMode.TRANSACTIONAL,
        PROP_BACKUPS_NUMBER: int(backups),
        PROP_WRITE_SYNCHRONIZATION_MODE: WriteSynchronizationMode.FULL_SYNC,
        PROP_PARTITION_LOSS_POLICY: loss_policy,
        PROP_QUERY_ENTITIES: [
            {
                "table_name": table,
                "key_type_name": "java.lang.String",
                "key_field_name": "ID",
                "value_type_name": _type_name(spec),
                "value_field_name": None,
                "query_fields": [
                    {"name": "ID", "type_name": "java.lang.String", "is_key_field": True},
                    {"name": "DOC", "type_name": "java.lang.String"},
                    {"name": "VER", "type_name": "java.lang.Long"},
                    {"name": "FP", "type_name": "java.lang.Long"},
                    {"name": "UNK", "type_name": "java.lang.Boolean"},
                ]
                + [{"name": f"P_{n}", "type_name": JAVA_TYPES[k]} for n, k in spec.fields],
                "field_name_aliases": [],
                "query_indexes": [ver_index(table)],
            }
        ],
    }


def _type_name(spec: CollectionSpec) -> str:
    # one binary type per collection: two collections may declare one field name with two types
    return "SynchubMoves_" + data_table_name(spec.cache_name)


async def open_moves(client: Any, spec: CollectionSpec, backups: int, loss_policy: Any) -> Moves:
    config = cache_config(spec, backups, loss_policy)
    cache = await client.get_or_create_cache(config)
    table = config[PROP_QUERY_ENTITIES][0]["table_name"]
    rows = await sql(
        client,
        "SELECT COLUMN_NAME FROM SYS.TABLE_COLUMNS WHERE SCHEMA_NAME = 'PUBLIC' AND TABLE_NAME = ?",
        (table,),
    )
    have = {str(r[0]) for r in rows}
    columns = {}
    for name, _ in spec.fields:
        col = f"P_{name}"
        columns[name] = '"' + (col if col in have else col.upper()).replace('"', '""') + '"'
    schema: dict[str, Any] = {"DOC": String, "VER": LongObject, "FP": LongObject, "UNK": BoolObject}
    schema.update({f"P_{n}": _HINTS[k] for n, k in spec.fields})
    row_type = GenericObjectMeta(_type_name(spec), (), {}, type_name=_type_name(spec), schema=schema)
    kinds = dict(spec.fields)
    return Moves(cache, table, FieldTable("PUBLIC", table, columns), kinds, fingerprint(spec), row_type)


def move(
    m: Moves, before: Mapping[str, Any] | None, meta: Any, known: bool, after: Mapping[str, Any] | None
) -> tuple[bool, Values | None] | None:
    """Whether the version written over ``meta`` (the previous meta row, a MetaRow or None) is a
    move: None when it is not, else ``(unknown, previous values)``. ``before`` is the data the
    writer saw before, ``known`` whether it saw it at all."""
    if meta is None:
        return None  # never had a version: no subscriber holds it
    if meta.fp != m.fp:
        return True, None  # written by a hub not recording moves (or other fields): not known
    if meta.deleted:
        return None  # nobody holds a deleted document
    if not known or doc_hash(before) != meta.h:
        return True, None
    prev = m.values(before)
    if prev is None:
        return True, None
    if after is not None and m.values(after) == prev:
        return None
    return False, prev


async def record(ctx: Any, m: Moves, rows: Iterable[tuple[str, int, tuple[bool, Values | None]]]) -> None:
    """Put move rows ``(id, ver, (unknown, previous values))`` (inside the writer's transaction)."""
    puts = {}
    for key, ver, (unknown, prev) in rows:
        vals: dict[str, Any] = {"DOC": key, "VER": ver, "FP": m.fp, "UNK": unknown}
        for (name, _), v in zip(m.kinds.items(), prev or (None,) * len(m.kinds), strict=True):
            vals[f"P_{name}"] = v
        puts[f"{ver}:{key}"] = m.row_type(**vals)
    if puts:
        if m.registered != ctx.types_token:
            await ctx.client.register_binary_type(m.row_type)
            m.registered = ctx.types_token
        await m.cache.put_all(puts)


async def leavers(ctx: Any, c: Any, f: Filter, after: int, floor_key: str) -> list[Change] | None:
    """Removals of a subset's catch-up from ``after``, in version order: the documents that may have
    been in the subset at ``after`` and are not now. None: moves since ``after`` were purged (or the
    collection records none): catch up the old way.

    Raises:
        RetentionPassed: ``after`` is below the collection's tombstone floor.
    """
    m: Moves | None = c.moves
    if m is None:
        return None
    name = c.spec.name
    if after < int(await ctx.sys.get(mfloor_key(name)) or 0):
        return None
    cond, args = where(f, m.fields, m.kinds)
    ids = {
        str(r[0])
        for r in await sql(
            ctx.client,
            f"SELECT DISTINCT d.DOC FROM {m.table} d WHERE d.VER > ? AND "
            f"(d.UNK = TRUE OR d.FP <> ? OR ({cond}))",
            (after, m.fp, *args),
        )
    }
    # versions from hubs that record no moves (rolling deploy): as before, removed unless they match
    ids.update(
        str(r[0])
        for r in await sql(
            ctx.client,
            f"SELECT ID FROM {c.table} WHERE VER > ? AND (FP IS NULL OR FP <> ?)",
            (after, m.fp),
        )
    )
    out = []
    if ids:
        metas = {k: MetaRow.from_ignite(v) for k, v in (await get_all(c.meta, list(ids))).items()}
        live = [(str(k), r.h, r.deleted) for k, r in metas.items() if r is not None]
        data = await data_for(ctx, c, live)
        for key, row in metas.items():
            if row is None or row.ver <= after:
                continue
            doc = None if row.deleted else data.get(key)
            if doc is None or not f.matches(doc):
                out.append(Change(str(key), row.ver, None))
    if after < int(await ctx.sys.get(floor_key) or 0):
        raise RetentionPassed(f"tombstones of {name!r} above {after} may have been purged")
    if after < int(await ctx.sys.get(mfloor_key(name)) or 0):
        return None  # purged while we read
    return sorted(out, key=lambda ch: ch.ver)


async def purge(ctx: Any, c: Any, limit: int, raise_floor: Any) -> None:
    """Delete moves at or below ``limit``, raising ``mfloor`` first (as gc.py does for tombstones)."""
    m: Moves | None = c.moves
    if m is None:
        return
    rows = await sql(ctx.client, f"SELECT MAX(VER) FROM {m.table} WHERE VER <= ?", (limit,))
    oldest = int(rows[0][0]) if rows and rows[0][0] is not None else 0
    if oldest > 0:
        await raise_floor(ctx, mfloor_key(c.spec.name), oldest)
        await sql(ctx.client, f"DELETE FROM {m.table} WHERE VER <= ?", (oldest,))
