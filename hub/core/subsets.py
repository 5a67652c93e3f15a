"""Query subscriptions of a collection: which filters a hub accepts, and what each change or
catch-up row is for the subscribers of a filter.

A collection that serves query subscriptions declares the fields filters may use, with a type
each (``string``, ``long``, ``double``, ``bool``): the hub gives them SQL columns and indexes, so a
subset's snapshot reads only the subset. A filter is accepted when every condition names a
declared field and compares it with values of the field's kind (so SQL over the column and
:meth:`hub.core.query.Cond.holds` agree), or it is refused with :class:`FilterError` (4422).

Live (:func:`live`): per change, the filters it concerns with what it is for each (``enter`` and
``stay`` travel as the document, ``leave`` as a removal ``[id, ver, nil]``). When the change does
not say what the document was before (``Change.prior`` False: a repaired event, a sweep, several
events of one key merged), every filter that does not match the new document gets the removal:
its subscribers may hold an older version, and a removal of a document a client does not hold is
a no-op.

Catch-up: the subset's documents changed since the cursor and the removals of those that left it,
read from the moves the store keeps (``Store.leavers``, hub/store/ignite/moves.py). Where it keeps
none (a cursor older than their retention, the memory store): :func:`classify`, every change since
the cursor, as the document when it matches now, as a removal otherwise. A document that left the
subset since the cursor has a version above it, so it is always removed; the price is removals of
documents the client never held.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .query import Filter, FilterError, FilterIndex, Template, bind, parse_filter
from .types import Change

FIELD_TYPES = ("string", "long", "double", "bool")
FEATURE = "query"  # welcome ``features``: this hub serves query subscriptions


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """What one collection serves: declared fields (name -> type) and named subscriptions."""

    coll: str
    fields: Mapping[str, str] = field(default_factory=dict)
    templates: Mapping[str, Template] = field(default_factory=dict)


def fits(kind: str, v: Any) -> bool:
    if v is None:
        return True
    if kind == "string":
        return isinstance(v, str)
    if kind == "bool":
        return isinstance(v, bool)
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    # a long column compares with integers only (SQL would convert a fraction; the core would not)
    return kind == "double" or isinstance(v, int) or v.is_integer()


def check_declared(f: Filter, spec: QuerySpec) -> None:
    """Refuse a filter SQL and the core could disagree on: undeclared fields, values of another
    kind than the field's, ranges over bools or nil."""
    for c in f.conds:
        kind = spec.fields.get(c.field)
        if kind is None:
            declared = ", ".join(sorted(spec.fields)) or "none"
            raise FilterError(
                f"field {c.field!r} of {spec.coll!r} is not declared for queries (declared: {declared})"
            )
        values = c.value if isinstance(c.value, tuple) else (c.value,)
        for v in values:
            if not fits(kind, v):
                raise FilterError(f"field {c.field!r} is a {kind}: {v!r} does not compare with it")
        if c.op not in ("==", "in") and (kind == "bool" or c.value is None):
            raise FilterError(f"field {c.field!r}: {c.op} needs a number or a string")


def resolve(
    spec: QuerySpec | None,
    raw: Any,
    name: str | None,
    params: Mapping[str, Any] | None,
    claims: Mapping[str, Any],
) -> Filter:
    """The filter of a ``sub``: ``raw`` (the client's) or the named subscription ``name`` bound
    with ``params`` and the token's ``claims``. Raises :class:`FilterError` with the reason."""
    if spec is None or not spec.fields:
        raise FilterError("this collection serves no query subscriptions (no declared fields)")
    if name is not None:
        template = spec.templates.get(name)
        if template is None:
            raise FilterError(f"no subscription named {name!r} for {spec.coll!r}")
        f = bind(template, params, claims)
    else:
        if params:
            raise FilterError("params are for named subscriptions")
        f = parse_filter(raw)
    check_declared(f, spec)
    return f


def check_template(t: Template, spec: QuerySpec) -> None:
    """A named subscription must use declared fields (checked when the config is read)."""
    for fname, _, _ in t.conds:
        if fname not in spec.fields:
            raise FilterError(f"subscription {t.name!r}: field {fname!r} is not declared")


def qkey(f: Filter) -> str:
    """A short name of the filter's live stream (``q`` of ``qsynced`` / ``qchg``), the same on
    every hub for the same subset."""
    return hashlib.blake2b(f.key.encode(), digest_size=8).hexdigest()


def removal(c: Change) -> Change:
    """``c`` as a removal from a subset: the id and version, no document."""
    return Change(c.id, c.ver, None)


def classify(f: Filter, changes: Iterable[Change]) -> list[Change]:
    """Catch-up rows for a subscriber of ``f``: the document if it matches, else a removal."""
    return [c if f.matches(c.doc) else removal(c) for c in changes]


def live(index: FilterIndex, changes: Sequence[Change]) -> dict[Filter, list[Change]]:
    """Per filter concerned, what its subscribers receive of ``changes`` (in order)."""
    out: dict[Filter, list[Change]] = {}
    for c in changes:
        if c.prior:
            pairs = index.affected(c.old, c.doc)
            for f, t in pairs:
                out.setdefault(f, []).append(removal(c) if t == "leave" else c)
        else:
            # Not known what the subscribers hold: a removal to every filter the new document does
            # not match (conservative, never wrong), the document to those it does.
            for f in index.refs:
                out.setdefault(f, []).append(c if f.matches(c.doc) else removal(c))
    return out
