"""Which versions are moves, and what their row holds (hub/store/ignite/moves.move; no Ignite)."""

from __future__ import annotations

from typing import Any

from hub.core.doc import doc_hash
from hub.store.ignite.fields import FieldTable
from hub.store.ignite.moves import Moves, move
from hub.store.ignite.schema import MetaRow

KINDS = {"team": "string", "n": "long"}
M = Moves(None, "T", FieldTable("PUBLIC", "T", {}), KINDS, fp=7, row_type=None)


def meta(doc: dict[str, Any] | None, fp: int = 7) -> MetaRow:
    return MetaRow(5, 5, "", doc_hash(doc), doc is None, fp)


def test_a_change_of_a_declared_value_or_a_delete_is_a_move_from_the_previous_values() -> None:
    old = {"team": "x", "n": 1, "body": "a"}
    assert move(M, old, meta(old), True, {"team": "y", "n": 1}) == (False, ("x", 1))
    assert move(M, old, meta(old), True, {"team": "x", "n": 2.0}) == (False, ("x", 1))
    assert move(M, old, meta(old), True, None) == (False, ("x", 1))
    # a missing field is nil, on both sides
    assert move(M, {"n": 1}, meta({"n": 1}), True, {"team": "x", "n": 1}) == (False, (None, 1))


def test_no_move_when_nothing_can_be_held_or_nothing_declared_changed() -> None:
    old = {"team": "x", "n": 1, "body": "a"}
    assert move(M, old, meta(old), True, {"team": "x", "n": 1, "body": "b"}) is None
    assert move(M, None, None, True, {"team": "x"}) is None  # never had a version
    assert move(M, None, meta(None), True, {"team": "x"}) is None  # re-created after a delete


def test_previous_values_not_known_count_as_every_filter() -> None:
    old = {"team": "x", "n": 1}
    unknown = (True, None)
    assert (
        move(M, old, meta(old), False, {"team": "x", "n": 1}) == unknown
    )  # a stamp without the event's old value
    assert (
        move(M, {"team": "z", "n": 1}, meta(old), True, {"team": "x", "n": 1}) == unknown
    )  # unstamped write between
    assert move(M, old, meta(old, fp=0), True, {"team": "y"}) == unknown  # an older hub wrote the version
    assert move(M, None, meta(None, fp=3), True, {"team": "y"}) == unknown  # ... even a delete: other fields
    odd = {"team": 5, "n": 1}
    assert move(M, odd, meta(odd), True, {"team": "x", "n": 1}) == unknown  # a value its column cannot hold
