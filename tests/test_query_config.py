"""Query-subscription settings (hub/queryconfig.py) and the SQL of subset pages (store/ignite/subset.py)."""

from __future__ import annotations

from typing import Any

import pytest

from hub.config import parse_config
from hub.core.errors import HubUsageError
from hub.core.query import parse_filter
from hub.store.ignite.fields import FieldTable
from hub.store.ignite.subset import where


def test_fields_and_named_subscriptions_are_read() -> None:
    cfg = parse_config(
        {
            "collections": {
                "todos": {
                    "fields": {"team": "string", "done": "bool"},
                    "subscriptions": {"mine": {"filter": [["team", "==", {"claim": "team"}]]}},
                }
            }
        }
    )
    assert cfg.collections[0].fields == (("team", "string"), ("done", "bool"))
    assert set(cfg.subscriptions["todos"]) == {"mine"}


@pytest.mark.parametrize(
    ("table", "why"),
    [
        ({"fields": {"team": "text"}}, "type must be one of"),
        ({"fields": {"id": "string"}}, "must be an identifier"),
        ({"fields": {"a b": "string"}}, "must be an identifier"),
        (
            {"fields": {"team": "string"}, "subscriptions": {"s": {"filter": [["other", "==", 1]]}}},
            "not declared",
        ),
        ({"fields": {"team": "string"}, "subscriptions": {"s": {"where": []}}}, "one key, filter"),
        (
            {"fields": {"team": "string"}, "subscriptions": {"s": {"filter": [["team", "==", {"x": 1}]]}}},
            "placeholder",
        ),
    ],
)
def test_bad_declarations_stop_the_hub(table: dict[str, Any], why: str) -> None:
    with pytest.raises(HubUsageError, match=why):
        parse_config({"collections": {"todos": table}})


def test_subset_sql() -> None:
    t = FieldTable("PUBLIC", "T", {"team": '"TEAM"', "n": '"N"', "x": '"X"'})
    kinds = {"team": "string", "n": "long", "x": "double"}
    cond, args = where(parse_filter([["team", "in", ["a", None]], ["n", ">=", 2.0], ["x", "<", 3]]), t, kinds)
    assert cond == 'd."N" >= ? AND (d."TEAM" IN (?) OR d."TEAM" IS NULL) AND d."X" < ?'
    assert args == [2, "a", 3.0] and isinstance(args[0], int) and isinstance(args[2], float)
    cond, args = where(parse_filter({"team": None}), t, kinds)
    assert (cond, args) == ('d."TEAM" IS NULL', [])
