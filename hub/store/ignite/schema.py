"""The per-collection sync-metadata table and the hub's system caches: names, cache configurations,
the meta row type, and opening a collection (data cache, meta table, epoch).

Meta table of data cache ``D`` (created by the hub as a cache configuration with a QueryEntity, see
:func:`meta_cache_config`; the table is what this DDL would make, upper-case names, so the binary field
names are ``VER``, ``LWW``, ``BY``, ``H``, ``DEL``)::

    CREATE TABLE IF NOT EXISTS SYNCHUB_META_<D'> (
        ID VARCHAR PRIMARY KEY, VER BIGINT, LWW BIGINT, BY VARCHAR, H BIGINT, DEL BOOLEAN)
    WITH "cache_name=synchub_meta_<D>,value_type=SynchubMeta,atomicity=transactional,backups=<n>,
          write_synchronization_mode=FULL_SYNC"
    CREATE INDEX IF NOT EXISTS SYNCHUB_META_<D'>_VER ON SYNCHUB_META_<D'> (VER)

``D'`` is ``D`` upper-cased with non-identifier characters replaced (plus a hash suffix when anything was
replaced). The key is the bare document id (a single VARCHAR primary key, so the key type is
``java.lang.String``), and the key-value view and SQL agree: ``cache.put(id, SynchubMeta(...))`` shows up
in ``SELECT ID, ...`` and an SQL ``INSERT`` reads back through ``cache.get(id)``. ``key_type`` is left out on
purpose in the DDL form: with ``key_type=java.lang.String`` given explicitly, Ignite 2.17 wraps the key, reads
``ID`` as NULL for rows put through the key-value API and fails SQL ``INSERT`` with "Failed to prepare
update plan" (the QueryEntity form names ``ID`` as ``key_field_name`` and does not wrap).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from pyignite import GenericObjectMeta  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes import BoolObject, ExpiryPolicy, LongObject, String  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes.cache_config import (  # type: ignore[import-untyped,unused-ignore]
    CacheAtomicityMode,
    IndexType,
    PartitionLossPolicy,
    WriteSynchronizationMode,
)
from pyignite.datatypes.prop_codes import (  # type: ignore[import-untyped,unused-ignore]
    PROP_BACKUPS_NUMBER,
    PROP_CACHE_ATOMICITY_MODE,
    PROP_EXPIRY_POLICY,
    PROP_NAME,
    PROP_PARTITION_LOSS_POLICY,
    PROP_QUERY_ENTITIES,
    PROP_SQL_SCHEMA,
    PROP_WRITE_SYNCHRONIZATION_MODE,
)
from pyignite.exceptions import CacheError  # type: ignore[import-untyped,unused-ignore]

from hub.core.errors import HubUsageError
from hub.core.types import CollectionSpec
from hub.store.ignite.encode import ObjectLayout, RawBinary
from hub.store.ignite.fields import FieldTable, field_table, query_entity, with_columns
from hub.store.ignite.tx import Context
from hub.store.ignite.values import ValueType, query_entity_fields

META_TYPE = "SynchubMeta"
SYS_CACHE = "synchub_sys"
#: Caches the hub creates refuse reads and writes of a partition whose every copy was lost (until an
#: operator resets it), instead of serving it as empty: lost data is never silently synced as deleted.
LOSS_POLICY = PartitionLossPolicy.READ_WRITE_SAFE
DEDUP_CACHE = "synchub_dedup"

_META_SCHEMA = OrderedDict(
    [
        ("VER", LongObject),
        ("LWW", LongObject),
        ("BY", String),
        ("H", LongObject),
        ("DEL", BoolObject),
        # the declared fields' fingerprint when the writer recorded this version's move (moves.py)
        ("FP", LongObject),
    ]
)


#: Key-value view of one meta-table row (field names as SQL registers unquoted columns).
SynchubMeta: Any = GenericObjectMeta("SynchubMeta", (), {}, type_name=META_TYPE, schema=_META_SCHEMA)
#: Direct writer of meta rows (same bytes as pyignite writes for ``SynchubMeta``; register that class first).
META_LAYOUT = ObjectLayout(SynchubMeta)


def encode_meta(row: MetaRow, compact: bool = True) -> bytes:
    """``row`` as a serialised ``SynchubMeta`` binary object (pass it as ``(bytes, RawBinary)``)."""
    return META_LAYOUT.write((row.ver, row.lww, row.by, row.h, row.deleted, row.fp or None), compact)


@dataclass(frozen=True, slots=True)
class MetaRow:
    ver: int
    lww: int
    by: str
    h: int
    deleted: bool
    fp: int = 0  # moves.py: 0 when the writer recorded no move for this version

    @classmethod
    def from_ignite(cls, obj: Any) -> MetaRow | None:
        """A row read through pyignite (``SynchubMeta`` object) or by the hub's decoder (a dict)."""
        if obj is None:
            return None
        if isinstance(obj, dict):
            g = obj.get
            return cls(
                int(g("VER") or 0),
                int(g("LWW") or 0),
                str(g("BY") or ""),
                int(g("H") or 0),
                bool(g("DEL")),
                int(g("FP") or 0),
            )
        return cls(
            int(obj.VER or 0),
            int(obj.LWW or 0),
            str(obj.BY or ""),
            int(obj.H or 0),
            bool(obj.DEL),
            int(getattr(obj, "FP", None) or 0),
        )

    def to_ignite(self) -> Any:
        return SynchubMeta(
            VER=self.ver, LWW=self.lww, BY=self.by, H=self.h, DEL=self.deleted, FP=self.fp or None
        )


def meta_cache_name(data_cache: str) -> str:
    return f"synchub_meta_{data_cache}"


def meta_table_name(data_cache: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_]", "_", data_cache).upper()
    if clean != data_cache.upper():
        clean += "_" + hashlib.blake2b(data_cache.encode(), digest_size=4).hexdigest().upper()
    return f"SYNCHUB_META_{clean}"


def meta_cache_config(data_cache: str, backups: int) -> dict[int, Any]:
    """The meta cache as one cache configuration (table, columns and ``VER`` index in a QueryEntity).

    Created with OP_CACHE_GET_OR_CREATE_WITH_CONFIGURATION, which Ignite makes atomic cluster-wide:
    hubs starting together all get the one cache, and its table is registered before the call
    returns. ``CREATE TABLE IF NOT EXISTS`` + ``CREATE INDEX IF NOT EXISTS`` were not: a hub racing
    another saw "Table doesn't exist" or "Cache is already indexed" and failed to start.
    The result is the same table the DDL made: ``PUBLIC.SYNCHUB_META_<D'>``, key ``ID`` (a bare
    ``java.lang.String`` key, not wrapped), value type ``SynchubMeta``.
    """
    table = meta_table_name(data_cache)
    return {
        PROP_NAME: meta_cache_name(data_cache),
        PROP_SQL_SCHEMA: "PUBLIC",
        PROP_CACHE_ATOMICITY_MODE: CacheAtomicityMode.TRANSACTIONAL,
        PROP_BACKUPS_NUMBER: int(backups),
        PROP_WRITE_SYNCHRONIZATION_MODE: WriteSynchronizationMode.FULL_SYNC,
        PROP_PARTITION_LOSS_POLICY: LOSS_POLICY,
        PROP_QUERY_ENTITIES: [
            {
                "table_name": table,
                "key_type_name": "java.lang.String",
                "key_field_name": "ID",
                "value_type_name": META_TYPE,
                "value_field_name": None,
                "query_fields": [
                    {"name": "ID", "type_name": "java.lang.String", "is_key_field": True},
                    {"name": "VER", "type_name": "java.lang.Long"},
                    {"name": "LWW", "type_name": "java.lang.Long"},
                    {"name": "BY", "type_name": "java.lang.String"},
                    {"name": "H", "type_name": "java.lang.Long"},
                    {"name": "DEL", "type_name": "java.lang.Boolean"},
                    {"name": "FP", "type_name": "java.lang.Long"},
                ],
                "field_name_aliases": [],
                "query_indexes": [ver_index(table)],
            }
        ],
    }


def ver_index(table: str) -> dict[str, Any]:
    """The ascending index on ``VER`` of a table read in version order (meta rows, moves)."""
    return {
        "index_name": f"{table}_VER",
        "index_type": IndexType.SORTED,
        "inline_size": -1,
        "fields": [{"name": "VER", "is_descending": False}],
    }


def epoch_key(coll: str) -> str:
    return f"epoch/{coll}"


def floor_key(coll: str) -> str:
    return f"floor/{coll}"


def closed_key(coll: str) -> str:
    """The collection's closed watermark (hub.store.ignite.closed)."""
    return f"closed/{coll}"


async def register_meta(ctx: Context) -> None:
    """Make sure the ``SynchubMeta`` schema is registered before meta rows are written pre-serialised."""
    client = ctx.client
    if ctx.meta_registered != ctx.types_token:
        await client.register_binary_type(SynchubMeta)
        ctx.meta_registered = ctx.types_token


def meta_value(ctx: Context, row: MetaRow) -> tuple[bytes, Any]:
    """A meta row as a pyignite value (pre-serialised; :func:`register_meta` first)."""
    return encode_meta(row, ctx.client.compact_footer), RawBinary


async def system_cache(client: Any, name: str, backups: int, ttl_ms: int = 0) -> Any:
    """``synchub_sys`` or ``synchub_dedup``, created TRANSACTIONAL and FULL_SYNC if missing."""
    settings: dict[Any, Any] = {
        PROP_NAME: name,
        PROP_CACHE_ATOMICITY_MODE: CacheAtomicityMode.TRANSACTIONAL,
        PROP_BACKUPS_NUMBER: backups,
        # An acknowledged write must survive its primary node's death: wait for the backups.
        PROP_WRITE_SYNCHRONIZATION_MODE: WriteSynchronizationMode.FULL_SYNC,
        PROP_PARTITION_LOSS_POLICY: LOSS_POLICY,
    }
    if ttl_ms > 0:
        settings[PROP_EXPIRY_POLICY] = ExpiryPolicy(create=ttl_ms, update=ttl_ms)
    return await client.get_or_create_cache(settings)


@dataclass(slots=True)
class Coll:
    """What the store keeps per ensured collection."""

    spec: CollectionSpec
    vtype: ValueType
    data: Any  # AioCache
    meta: Any  # AioCache
    table: str
    transactional: bool
    # The background sweep (stamp.partition_differences): next partition, and the data cache's
    # partition count (Ignite's default until a scan past the end says otherwise).
    sweep_next: int = 0
    partitions: int = 1024
    # Cache group ids of the data and meta caches, looked up once, and their LOST partitions (loss.py).
    groups: list[int] = field(default_factory=list)
    lost: set[int] = field(default_factory=set)
    # The SQL table of the declared fields (query subscriptions, fields.py); None: none declared.
    fields: FieldTable | None = None
    # The moves table (moves.py) of a collection with declared fields.
    moves: Any = None
    # Keys whose last event was skipped as stale: their next change's old value is not trusted (stamp.py).
    unsure: set[str] = field(default_factory=set)


async def ensure(ctx: Context, spec: CollectionSpec, dedup_ttl_ms: int, colls: dict[str, Coll]) -> None:
    """Create (or find) the collection's data cache and meta table, register it in ``colls``, and make
    sure it has an epoch: a new one when this hub had to create the meta table from nothing."""
    client = ctx.client
    names = set(await client.get_cache_names())
    if ctx.sys is None or spec.backups > 0 or SYS_CACHE not in names or DEDUP_CACHE not in names:
        ctx.sys = await system_cache(client, SYS_CACHE, spec.backups)
        ctx.dedup = await system_cache(client, DEDUP_CACHE, spec.backups, dedup_ttl_ms)
    data, settings, atomic = await _data_cache(client, spec, names)
    key = epoch_key(spec.name)
    # Read before creating: the one hub that creates the meta table replaces exactly this value, so
    # hubs starting together agree on one epoch. "Created" must be exclusive: a hub that only saw the
    # table missing from its listing, then read the epoch another hub had just written, used to
    # replace it, and hubs started together reported two epochs (soak run).
    old_epoch = await ctx.sys.get(key)
    meta, created = await _meta_cache(client, spec, names)
    if created or colls.get(spec.name) is not None:
        # A meta table created here, or a collection opened again after a lost feed: the cluster
        # may have restarted empty (in memory; another hub may have recreated the tables first).
        # It lost every binary type too, while pyignite's registry (and register_meta) still hold
        # them and would never send them again: values written with a compact footer then wait for
        # a schema that never comes, each write hung (the chaos suite). Forget them: each type is
        # looked up, or sent again, on next use.
        client._registry.clear()
        ctx.meta_registered = None
    vtype = ValueType(spec.type_name, query_entity_fields(settings.get(PROP_QUERY_ENTITIES), spec.type_name))
    old = colls.get(spec.name)
    table = meta_table_name(spec.cache_name)
    fields = field_table(spec, settings)
    if fields is not None:
        fields = await with_columns(client, fields)
    if fields is not None:
        await fp_column(client, table)
    # (the facade opens the moves table then: moves.py reads through modules importing this one;
    # until it does, writes record no move and no FP, which catch-ups treat as before moves)
    colls[spec.name] = Coll(spec, vtype, data, meta, table, not atomic, fields=fields)
    # hubs sweep from different places, so that together they cover the partitions sooner
    colls[spec.name].sweep_next = old.sweep_next if old is not None else secrets.randbelow(1024)
    if created and old_epoch is not None:
        # the meta table was lost (dropped, wiped) while the epoch survived: every cursor is void
        await ctx.sys.replace_if_equals(
            key, old_epoch, secrets.token_hex(8), sample_hint=String, value_hint=String
        )
    else:
        await ctx.sys.put_if_absent(key, secrets.token_hex(8), value_hint=String)


async def fp_column(client: Any, table: str) -> None:
    """Give a meta table made by an older hub the ``FP`` column (its rows read NULL: no moves)."""

    async def present() -> bool:
        cur = await client.sql(
            "SELECT COLUMN_NAME FROM SYS.TABLE_COLUMNS WHERE SCHEMA_NAME = 'PUBLIC' AND TABLE_NAME = ?",
            query_args=[table],
        )
        async with cur:
            return "FP" in {str(row[0]) async for row in cur}

    if await present():
        return
    try:
        cur = await client.sql(f"ALTER TABLE PUBLIC.{table} ADD COLUMN IF NOT EXISTS FP BIGINT")
        async with cur:
            pass
    except Exception:
        # hubs starting together: another one's ALTER may have won the race
        if not await present():
            raise


async def _meta_cache(client: Any, spec: CollectionSpec, names: set[str]) -> tuple[Any, bool]:
    """The meta cache, and whether this call created it (exactly one of racing hubs does).

    OP_CACHE_CREATE_WITH_CONFIGURATION fails for every hub but one when several create the same
    cache; those (and any other failure) fall back to get-or-create, which returns once the cache
    has started, or raises what is really wrong."""
    config = meta_cache_config(spec.cache_name, spec.backups)
    if meta_cache_name(spec.cache_name) not in names:
        try:
            return await client.create_cache(config), True
        except CacheError:
            pass
    return await client.get_or_create_cache(config), False


async def _data_cache(client: Any, spec: CollectionSpec, names: set[str]) -> tuple[Any, dict[Any, Any], bool]:
    """The data cache (created if missing), its settings, and whether it is ATOMIC.

    Always through OP_CACHE_GET_OR_CREATE_WITH_CONFIGURATION, which returns once the cache has
    started: a cache another hub is creating right now is already listed by ``get_cache_names`` but
    not started yet, and reading its configuration then fails with "Cache does not exist". An
    existing cache keeps its own configuration (a user's SQL table, say); its settings are read back.
    """
    if spec.cache_name not in names and spec.writable and spec.atomicity != "TRANSACTIONAL":
        raise HubUsageError(
            f"collection {spec.name!r} is writable but configured ATOMIC: writable collections "
            "need a TRANSACTIONAL cache"
        )
    data = await client.get_or_create_cache(
        {
            **(query_entity(spec) if spec.fields else {}),
            PROP_NAME: spec.cache_name,
            PROP_CACHE_ATOMICITY_MODE: CacheAtomicityMode.ATOMIC
            if spec.atomicity == "ATOMIC"
            else CacheAtomicityMode.TRANSACTIONAL,
            PROP_BACKUPS_NUMBER: spec.backups,
            PROP_WRITE_SYNCHRONIZATION_MODE: WriteSynchronizationMode.FULL_SYNC,
            PROP_PARTITION_LOSS_POLICY: LOSS_POLICY,
        }
    )
    settings = await data.settings()
    atomic = settings.get(PROP_CACHE_ATOMICITY_MODE) == CacheAtomicityMode.ATOMIC
    if atomic and spec.writable:
        raise HubUsageError(
            f"collection {spec.name!r} is writable but its cache {spec.cache_name!r} is ATOMIC: the hub "
            "writes data, metadata and dedup records in one transaction; make the cache TRANSACTIONAL "
            '(e.g. WITH "atomicity=transactional") or configure the collection read-only'
        )
    return data, settings, atomic
