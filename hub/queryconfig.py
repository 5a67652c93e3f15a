"""The query-subscription settings of a collection: declared fields and named subscriptions.

::

    [collections.todos]
    fields = {team = "string", done = "bool", ts = "long"}   # SQL columns + an index each

    [collections.todos.subscriptions.my_team_open]           # sub {name: "my_team_open"}
    filter = [["team", "==", {claim = "team"}], ["done", "==", false]]

    [collections.todos.subscriptions.since]                  # sub {name: "since", params: {t: ...}}
    filter = [["team", "==", {claim = "team"}], ["ts", ">=", {param = "t"}]]

Types: ``string``, ``long``, ``double``, ``bool`` (docs/operations.md). Checked when the config is
read: a bad declaration stops the hub at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hub.core.errors import HubUsageError
from hub.core.query import FilterError, Template, parse_template
from hub.core.subsets import FIELD_TYPES, QuerySpec, check_template

#: A declared field becomes an SQL column of that name (quoted): keep it an identifier.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def parse_fields(where: str, raw: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, Mapping):
        raise HubUsageError(f'{where}: fields must be a table, e.g. {{team = "string"}}')
    out = []
    for name, kind in raw.items():
        if not isinstance(name, str) or not _NAME.match(name) or name.upper() in ("ID", "_KEY", "_VAL"):
            raise HubUsageError(f"{where}: field name {name!r} must be an identifier (not id)")
        if kind not in FIELD_TYPES:
            raise HubUsageError(f"{where}: field {name!r}: type must be one of {', '.join(FIELD_TYPES)}")
        out.append((name, str(kind)))
    return tuple(out)


def parse_subscriptions(
    where: str, coll: str, fields: tuple[tuple[str, str], ...], raw: Any
) -> dict[str, Template]:
    """``[collections.X.subscriptions.NAME] filter = ...`` tables, checked against the fields."""
    if not isinstance(raw, Mapping):
        raise HubUsageError(f"{where}: subscriptions must be a table of tables")
    spec = QuerySpec(coll, dict(fields))
    out: dict[str, Template] = {}
    for name, table in raw.items():
        at = f"{where}.subscriptions.{name}"
        if not isinstance(table, Mapping) or set(table) != {"filter"}:
            raise HubUsageError(f"{at}: a named subscription is a table with one key, filter")
        try:
            template = parse_template(name, coll, table["filter"])
            check_template(template, spec)
        except FilterError as exc:
            raise HubUsageError(f"{at}: {exc}") from None
        out[name] = template
    return out


def query_specs(
    collections: Mapping[str, tuple[tuple[str, str], ...]], templates: Mapping[str, Mapping[str, Template]]
) -> dict[str, QuerySpec]:
    """The :class:`QuerySpec` of every collection with declared fields."""
    return {
        name: QuerySpec(name, dict(fields), dict(templates.get(name, {})))
        for name, fields in collections.items()
        if fields
    }
