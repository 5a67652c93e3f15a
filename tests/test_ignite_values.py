"""hub/store/ignite/values.py: how a document's field is fitted to the Ignite type it is stored as."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pyignite.datatypes import BoolObject, IntObject, LongObject, String, UUIDObject

from hub.core.errors import InvalidDocument
from hub.store.ignite.values import coerce


def test_values_that_fit_come_back_as_they_will_read_back() -> None:
    assert coerce("n", IntObject, 3) == (3, 3)
    assert coerce("n", LongObject, 4.0) == (4, 4)  # an integral float (JSON numbers) fits an integer
    assert coerce("s", String, "x") == ("x", "x")
    assert coerce("b", BoolObject, True) == (True, True)
    assert coerce("n", IntObject, None) == (None, None)
    u = uuid.uuid4()
    assert coerce("u", UUIDObject, str(u)) == (u, u)


@pytest.mark.parametrize(
    ("hint", "value", "message"),
    [
        (IntObject, "3", "field 'f': str does not fit IntObject"),
        (IntObject, True, "field 'f': bool does not fit IntObject"),
        (IntObject, 2.5, "field 'f': float does not fit IntObject"),
        (IntObject, 1 << 31, f"field 'f': {1 << 31} is out of range"),
        (String, 7, "field 'f': int does not fit String"),
        (BoolObject, 1, "field 'f': int does not fit BoolObject"),
        (UUIDObject, "not-a-uuid", "field 'f': str does not fit UUIDObject"),
    ],
)
def test_a_misfit_is_refused_with_the_field_and_types(hint: Any, value: Any, message: str) -> None:
    with pytest.raises(InvalidDocument) as info:
        coerce("f", hint, value)
    assert str(info.value) == message
