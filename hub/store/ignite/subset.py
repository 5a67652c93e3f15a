"""Pages of a subset (query subscriptions' snapshots): SQL over the declared fields' columns.

One page is the meta rows of the documents matching the filter, ``VER > after`` in version order,
``limit`` of them plus the rest of the last version's group (as :func:`hub.store.ignite.read.changes`:
a page never ends inside a group of equal versions). The data table is the driving table of the
join (``enforce_join_order``: its index on a filtered field picks the subset, each row then finds
its meta row by key), so the cost follows the subset, not the collection. The data of the rows is
then read by key with the same hash check as whole-collection pages (``read.data_for``: a version is
never paired with older content), and checked against the filter again: content that changed
after the SQL read and left the subset is left out (its own, newer version reaches the subscriber
live, as a removal it can ignore).

The data and meta caches must be collocated (same affinity for the same String key): both are
created by the hub with Ignite's default; an application's own table must keep the default too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.core.query import Cond, Filter, make_filter
from hub.core.types import Change
from hub.store.base import SubsetPage
from hub.store.ignite.fields import FieldTable
from hub.store.ignite.read import data_for, sql
from hub.store.ignite.schema import Coll
from hub.store.ignite.tx import Context

_OPS = {"==": "=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def sql_arg(kind: str, v: Any) -> Any:
    if kind == "long" and isinstance(v, float):
        return int(v)  # integral (subsets.check_declared refuses the others)
    if kind == "double" and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    return v


def where(f: Filter, table: FieldTable, kinds: Mapping[str, str]) -> tuple[str, list[Any]]:
    """The filter as an SQL condition over the data table aliased ``d``, and its arguments. A
    missing field reads as NULL, which is what nil means to a filter (``== nil``, ``in [.., nil]``)."""
    parts: list[str] = []
    args: list[Any] = []
    for c in f.conds:
        col, kind = f"d.{table.columns[c.field]}", kinds[c.field]
        if c.op == "in":
            values = c.value if isinstance(c.value, tuple) else (c.value,)
            given = [v for v in values if v is not None]
            alts = []
            if given:
                alts.append(f"{col} IN ({', '.join('?' for _ in given)})")
                args.extend(sql_arg(kind, v) for v in given)
            if len(given) < len(values):
                alts.append(f"{col} IS NULL")
            parts.append("(" + " OR ".join(alts) + ")")
        elif c.value is None:
            parts.append(f"{col} IS NULL")
        else:
            parts.append(f"{col} {_OPS[c.op]} ?")
            args.append(sql_arg(kind, c.value))
    return " AND ".join(parts), args


async def page(ctx: Context, c: Coll, f: Filter, after: int, limit: int) -> SubsetPage:
    """``Store.subset``: one page of the live documents matching ``f`` with ``VER > after``."""
    table = c.fields
    if table is None:
        raise ValueError(f"collection {c.spec.name!r} declares no fields")
    cond, args = where(f, table, dict(c.spec.fields))
    base = (
        f"SELECT m.ID, m.VER, m.H, m.DEL FROM {table.table} d JOIN {c.table} m ON m.ID = d._KEY "
        f"WHERE m.DEL = FALSE AND {cond} AND m.VER"
    )

    async def rows_of(query: str, qargs: list[Any], size: int = 1024) -> list[list[Any]]:
        return await sql(ctx.client, query, qargs, size, enforce_join_order=True)

    rows = await rows_of(
        f"{base} > ? ORDER BY m.VER LIMIT ?", [*args, after, limit], min(max(limit, 1), 1024)
    )
    full = len(rows) >= limit
    if full and rows:
        last = int(rows[-1][1])
        have = {str(r[0]) for r in rows if int(r[1]) == last}
        tie = await rows_of(f"{base} = ?", [*args, last])
        rows = list(rows) + [r for r in tie if str(r[0]) not in have]
    data = await data_for(ctx, c, ((str(k), int(h or 0), bool(d)) for k, _, h, d in rows))
    out = []
    for key, ver, _h, _deleted in rows:
        doc = data.get(str(key))
        if doc is not None and f.matches(doc):
            out.append(Change(str(key), int(ver), doc))
    return SubsetPage(out, int(rows[-1][1]) if rows else after, full)


async def warm(ctx: Context, c: Coll) -> int:
    """One subset page read when the collection opens, off the request path: Ignite's SQL engine
    runs its first query of that shape several times slower than the next ones (measured on
    1,000,000 documents: 516-616 ms, then 177-230 ms; docs/benchmarks.md), so the first subscriber
    would pay it. Reads up to 1,000 documents of one value of the first declared field; returns how
    many it read (0 for an empty collection)."""
    table = c.fields
    if table is None or not c.spec.fields:
        return 0
    name, _kind = c.spec.fields[0]
    col = table.columns[name]
    found = await sql(
        ctx.client, f"SELECT d.{col} FROM {table.table} d WHERE d.{col} IS NOT NULL LIMIT 1", [], 1
    )
    if not found:
        return 0
    f = make_filter([Cond(name, "==", found[0][0])])
    return len((await page(ctx, c, f, 0, 1000)).changes)
