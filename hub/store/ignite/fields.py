"""Declared fields of a collection (query subscriptions): SQL columns and indexes on its data cache.

A collection that declares ``fields = {team = "string", ...}`` and whose data cache the hub creates
gets the cache with a QueryEntity: table ``PUBLIC.<D'>`` (``D'`` as for the meta table: the cache
name upper-cased, non-identifier characters replaced), key column ``ID``, one column per declared
field, named as the field (so quoted in SQL: ``"team"``) and a sorted index on each. Like the meta
table, it is one cache configuration created with OP_CACHE_GET_OR_CREATE_WITH_CONFIGURATION: hubs
starting together cannot race on DDL.

A data cache that exists already keeps its configuration (an application's SQL table, say): each
declared field must then be a column of its table with the declared type, or the hub refuses to
start and says which (Ignite cannot add a QueryEntity to a running cache without a table;
``ALTER TABLE ... ADD COLUMN`` + ``CREATE INDEX`` does it for a table).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyignite.datatypes.cache_config import IndexType  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes.prop_codes import (  # type: ignore[import-untyped,unused-ignore]
    PROP_NAME,
    PROP_QUERY_ENTITIES,
    PROP_SQL_SCHEMA,
)

from hub.core.errors import HubUsageError
from hub.core.types import CollectionSpec

JAVA_TYPES = {
    "string": "java.lang.String",
    "long": "java.lang.Long",
    "double": "java.lang.Double",
    "bool": "java.lang.Boolean",
}


@dataclass(frozen=True, slots=True)
class FieldTable:
    """Where a collection's declared fields can be read by SQL: ``table`` (schema-qualified,
    quoted) whose ``_KEY`` is the document id, and the (quoted) column of each declared field."""

    schema: str
    name: str
    columns: Mapping[str, str]

    @property
    def table(self) -> str:
        return f"{_quote(self.schema)}.{_quote(self.name)}"


def data_table_name(data_cache: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_]", "_", data_cache).upper()
    if clean != data_cache.upper():
        clean += "_" + hashlib.blake2b(data_cache.encode(), digest_size=4).hexdigest().upper()
    return clean


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def query_entity(spec: CollectionSpec) -> dict[int, Any]:
    """Cache settings adding the declared fields' table to a data cache the hub creates."""
    table = data_table_name(spec.cache_name)
    return {
        PROP_SQL_SCHEMA: "PUBLIC",
        PROP_QUERY_ENTITIES: [
            {
                "table_name": table,
                "key_type_name": "java.lang.String",
                "key_field_name": "ID",
                "value_type_name": spec.type_name,
                "value_field_name": None,
                "query_fields": [{"name": "ID", "type_name": "java.lang.String", "is_key_field": True}]
                + [{"name": name, "type_name": JAVA_TYPES[kind]} for name, kind in spec.fields],
                "field_name_aliases": [],
                "query_indexes": [
                    {
                        "index_name": f"{table}_{data_table_name(name)}",
                        "index_type": IndexType.SORTED,
                        "inline_size": -1,
                        "fields": [{"name": name, "is_descending": False}],
                    }
                    for name, _ in spec.fields
                ],
            }
        ],
    }


def field_table(spec: CollectionSpec, settings: Mapping[int, Any]) -> FieldTable | None:
    """The SQL table of the declared fields in the data cache's ``settings`` (None: no fields).

    Raises:
        HubUsageError: a declared field that is not a column of the cache's table, or of another type.
    """
    if not spec.fields:
        return None
    entities: Sequence[Mapping[str, Any]] = settings.get(PROP_QUERY_ENTITIES) or ()
    qe = next((e for e in entities if e.get("value_type_name") == spec.type_name), None)
    where = f"collection {spec.name!r} (cache {spec.cache_name!r})"
    if qe is None:
        raise HubUsageError(
            f"{where} declares fields for query subscriptions but its existing cache has no SQL table "
            f"for value type {spec.type_name!r}: create the cache as a table with these columns, or let "
            "the hub create it (docs/operations.md)"
        )
    have = {str(f.get("name")): str(f.get("type_name")) for f in qe.get("query_fields") or ()}
    columns = {}
    for name, kind in spec.fields:
        if have.get(name) != JAVA_TYPES[kind]:
            raise HubUsageError(
                f"{where}: declared field {name!r} ({kind}) is not a {JAVA_TYPES[kind]} column of its "
                f"table (columns: {sorted(have)}); ALTER TABLE ... ADD COLUMN {_quote(name)} and CREATE "
                "INDEX, or let the hub create the cache"
            )
        columns[name] = _quote(name)
    # a table's schema is PUBLIC (DDL) or what the cache says; without one Ignite names it after the cache
    schema = str(settings.get(PROP_SQL_SCHEMA) or settings.get(PROP_NAME) or spec.cache_name)
    table = str(qe.get("table_name") or spec.type_name)
    return FieldTable(schema, table, columns)


async def with_columns(client: Any, ft: FieldTable) -> FieldTable:
    """``ft`` with each field's real SQL column: a QueryEntity's field ``team`` is the column ``TEAM``
    (Ignite upper-cases unescaped names), a DDL column written ``"team"`` stays ``team``."""
    cur = await client.sql(
        "SELECT COLUMN_NAME FROM SYS.TABLE_COLUMNS WHERE SCHEMA_NAME = ? AND TABLE_NAME = ?",
        query_args=[ft.schema, ft.name],
    )
    have = set()
    async with cur:
        async for row in cur:
            have.add(str(row[0]))
    columns = {}
    for name in ft.columns:
        column = name if name in have else name.upper()
        if column not in have:
            raise HubUsageError(
                f"table {ft.table} has no column for declared field {name!r} ({sorted(have)})"
            )
        columns[name] = _quote(column)
    return FieldTable(ft.schema, ft.name, columns)
