"""The per-collection sync-metadata table and the hub's system caches (names, DDL, row type).

Meta table of data cache ``D`` (SQL, created by the hub; unquoted names, so H2 upper-cases them and the
binary field names are ``VER``, ``LWW``, ``BY``, ``H``, ``DEL``)::

    CREATE TABLE IF NOT EXISTS SYNCHUB_META_<D'> (
        ID VARCHAR PRIMARY KEY, VER BIGINT, LWW BIGINT, BY VARCHAR, H BIGINT, DEL BOOLEAN)
    WITH "cache_name=synchub_meta_<D>,value_type=SynchubMeta,atomicity=transactional,backups=<n>,
          write_synchronization_mode=FULL_SYNC"
    CREATE INDEX IF NOT EXISTS SYNCHUB_META_<D'>_VER ON SYNCHUB_META_<D'> (VER)

``D'`` is ``D`` upper-cased with non-identifier characters replaced (plus a hash suffix when anything was
replaced). The key is the bare document id (a single VARCHAR primary key, so the key type is
``java.lang.String``), and the key-value view and SQL agree: ``cache.put(id, SynchubMeta(...))`` shows up
in ``SELECT ID, ...`` and an SQL ``INSERT`` reads back through ``cache.get(id)``. ``key_type`` is left out on
purpose: with ``key_type=java.lang.String`` given explicitly, Ignite 2.17 reads ``ID`` as NULL for rows put
through the key-value API and fails SQL ``INSERT`` with "Failed to prepare update plan".
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from pyignite import GenericObjectMeta  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes import BoolObject, LongObject, String  # type: ignore[import-untyped,unused-ignore]

from hub.store.ignite_binary import ObjectLayout

META_TYPE = "SynchubMeta"
SYS_CACHE = "synchub_sys"
DEDUP_CACHE = "synchub_dedup"

_META_SCHEMA = OrderedDict(
    [("VER", LongObject), ("LWW", LongObject), ("BY", String), ("H", LongObject), ("DEL", BoolObject)]
)


#: Key-value view of one meta-table row (field names as SQL registers unquoted columns).
SynchubMeta: Any = GenericObjectMeta("SynchubMeta", (), {}, type_name=META_TYPE, schema=_META_SCHEMA)
#: Direct writer of meta rows (same bytes as pyignite writes for ``SynchubMeta``; register that class first).
META_LAYOUT = ObjectLayout(SynchubMeta)


def encode_meta(row: MetaRow, compact: bool = True) -> bytes:
    """``row`` as a serialised ``SynchubMeta`` binary object (pass it as ``(bytes, RawBinary)``)."""
    return META_LAYOUT.write((row.ver, row.lww, row.by, row.h, row.deleted), compact)


@dataclass(frozen=True, slots=True)
class MetaRow:
    ver: int
    lww: int
    by: str
    h: int
    deleted: bool

    @classmethod
    def from_ignite(cls, obj: Any) -> MetaRow | None:
        """A row read through pyignite (``SynchubMeta`` object) or by the hub's decoder (a dict)."""
        if obj is None:
            return None
        if isinstance(obj, dict):
            g = obj.get
            return cls(
                int(g("VER") or 0), int(g("LWW") or 0), str(g("BY") or ""), int(g("H") or 0), bool(g("DEL"))
            )
        return cls(int(obj.VER or 0), int(obj.LWW or 0), str(obj.BY or ""), int(obj.H or 0), bool(obj.DEL))

    def to_ignite(self) -> Any:
        return SynchubMeta(VER=self.ver, LWW=self.lww, BY=self.by, H=self.h, DEL=self.deleted)


def meta_cache_name(data_cache: str) -> str:
    return f"synchub_meta_{data_cache}"


def meta_table_name(data_cache: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_]", "_", data_cache).upper()
    if clean != data_cache.upper():
        clean += "_" + hashlib.blake2b(data_cache.encode(), digest_size=4).hexdigest().upper()
    return f"SYNCHUB_META_{clean}"


def create_table_sql(data_cache: str, backups: int) -> str:
    cache = meta_cache_name(data_cache)
    if '"' in cache or "," in cache or "=" in cache:
        raise ValueError(f"cache name {data_cache!r} cannot be used in a CREATE TABLE ... WITH clause")
    return (
        f"CREATE TABLE IF NOT EXISTS {meta_table_name(data_cache)} ("
        "ID VARCHAR PRIMARY KEY, VER BIGINT, LWW BIGINT, BY VARCHAR, H BIGINT, DEL BOOLEAN) "
        f'WITH "cache_name={cache},value_type={META_TYPE},'
        f'atomicity=transactional,backups={int(backups)},write_synchronization_mode=FULL_SYNC"'
    )


def create_index_sql(data_cache: str) -> str:
    table = meta_table_name(data_cache)
    return f"CREATE INDEX IF NOT EXISTS {table}_VER ON {table} (VER)"


def epoch_key(coll: str) -> str:
    return f"epoch/{coll}"


def floor_key(coll: str) -> str:
    return f"floor/{coll}"
