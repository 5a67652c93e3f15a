"""The ``[rooms]`` settings (hub/rooms.py): defaults, prefix rules, validation."""

from __future__ import annotations

from typing import Any

import pytest

from hub.auth.identity import Identity
from hub.config import parse_config
from hub.core.errors import HubUsageError
from hub.rooms import parse_rooms


def who(sub: str, **claims: Any) -> Identity:
    return Identity(sub, {"sub": sub, **claims}, None)


def test_defaults_let_authenticated_users_in() -> None:
    rooms = parse_config({}, env={}).rooms
    assert rooms.ttl_ms == 15_000 and rooms.grace_ms < rooms.ttl_ms
    assert rooms.can_join(who("a"), "any") and rooms.can_broadcast(who("a"), "any")
    assert not rooms.can_join(Identity("", {}, None, anonymous=True), "any")


def test_longest_prefix_wins() -> None:
    rooms = parse_rooms(
        {
            "access": {
                "team-": {"read": ["claim:team=red"], "write": ["claim:team=red"]},
                "team-open": {"read": ["authenticated"], "write": ["sub:boss"]},
                "": {"read": ["sub:nobody"]},
            }
        }
    )
    assert rooms.can_join(who("a", team="red"), "team-x")
    assert not rooms.can_join(who("b", team="blue"), "team-x")
    assert rooms.can_join(who("b"), "team-open-1") and not rooms.can_broadcast(who("b"), "team-open-1")
    assert rooms.can_broadcast(who("boss"), "team-open-1")
    assert not rooms.can_join(who("a"), "lobby")  # the "" prefix is the default


@pytest.mark.parametrize(
    "table",
    [
        {"ttl": 1},
        {"ttl_ms": 0},
        {"ttl_ms": 1000, "grace_ms": 1000},
        {"msg_rate": 0},
        {"max_rooms": True},
        {"access": {"x": {"read": "sub:a"}}},
        {"access": {"x": {"read": ["nope"]}}},
        {"access": {"x": {"admin": []}}},
    ],
)
def test_invalid_tables_are_usage_errors(table: dict[str, Any]) -> None:
    with pytest.raises(HubUsageError):
        parse_config({"rooms": table}, env={})
