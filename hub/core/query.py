"""Query subscriptions (partial sync): filters over document fields, named templates, and the index
that finds the filters one change concerns.

**Filter** (the same form on the wire, in ``sub {filter}``, and in the hub config): a list of
conditions that must all hold (``and``), each ``[field, op, value]``::

    [["team", "==", "x"], ["done", "==", False]]
    [["room", "==", "R"], ["ts", ">=", 1700000000000]]
    [["status", "in", ["open", "review"]]]

A plain map ``{"team": "x", "done": False}`` is shorthand for equalities. ``field`` is a top-level
field name; ``op`` is one of ``==  <  <=  >  >=  in``; values are scalars (str, int, float, bool,
nil), ``in`` takes a list of 1..:data:`MAX_IN` of them. A missing field is nil.

**Semantics** (one rule, so the hub's SQL and this module agree): a comparison holds only
between values of the same kind — numbers with numbers (``1 == 1.0``), strings with strings
(code-point order), bools and nil only with ``==``/``in``. ``["n", "<", 5]`` never holds for a
document whose ``n`` is a string or missing.

**Templates** (named subscriptions the operator writes in the config): a value may be
``{"param": name}`` (from the client's ``params``) or ``{"claim": name}`` (from the token's
claims, so a user can only ask for what the claim allows); :func:`bind` turns a template into a
:class:`Filter` or refuses.

**Index**: :class:`FilterIndex` files each distinct filter under one equality (or ``in``) of it;
the filters a change concerns are those filed under the values its old and new documents have
in the indexed fields, plus the few without an equality. The cost of a change follows the number
of distinct filters it may match, not the number of subscribers.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

OPS = ("==", "<", "<=", ">", ">=", "in")
MAX_CONDS = 16
MAX_IN = 256
MAX_FIELD = 128
MAX_STR = 1024

Scalar = str | int | float | bool | None
Transition = Literal["enter", "leave", "stay"]


class FilterError(ValueError):
    """A filter (or template, or its parameters) that cannot be used; the message says why."""


def _kind(v: Any) -> str:
    """The comparison class of a value: ``n`` number, ``s`` string, ``b`` bool, ``z`` nil, ``x`` other."""
    if v is None:
        return "z"
    if isinstance(v, bool):
        return "b"
    if isinstance(v, int | float):
        return "n"
    if isinstance(v, str):
        return "s"
    return "x"


def value_key(v: Any) -> tuple[str, Any]:
    """A hashable key equal for values that compare equal (``1`` and ``1.0``; never ``1`` and ``True``)."""
    k = _kind(v)
    if k == "n" and isinstance(v, float) and v.is_integer():
        return ("n", int(v))
    if k == "x":
        return ("x", id(v))  # equal to nothing a filter can hold
    return (k, v)


def _scalar(v: Any, where: str) -> Scalar:
    k = _kind(v)
    if k == "x":
        raise FilterError(f"{where}: a value must be a string, number, bool or nil, not {type(v).__name__}")
    if k == "n" and isinstance(v, float) and not math.isfinite(v):
        raise FilterError(f"{where}: numbers must be finite")
    if k == "s" and len(v) > MAX_STR:
        raise FilterError(f"{where}: strings are at most {MAX_STR} characters")
    return v  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True, eq=False)
class Cond:
    field: str
    op: str
    value: Scalar | tuple[Scalar, ...]

    # Equal by value_key, not Python's ==: ``1 == True`` there, but a filter on ``n == 1`` and one
    # on ``n == True`` are different subsets and must not share subscribers (found by the index's
    # property test).
    def _canon(self) -> tuple[str, str, Any]:
        v = self.value
        return (self.field, self.op, tuple(value_key(x) for x in v) if isinstance(v, tuple) else value_key(v))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cond) and self._canon() == other._canon()

    def __hash__(self) -> int:
        return hash(self._canon())

    def holds(self, doc: Mapping[str, Any]) -> bool:
        have = doc.get(self.field)
        if self.op == "in":
            assert isinstance(self.value, tuple)
            key = value_key(have)
            return any(value_key(v) == key for v in self.value)
        want = self.value
        if self.op == "==":
            return value_key(have) == value_key(want)
        kind = _kind(want)
        if kind not in ("n", "s") or _kind(have) != kind:
            return False
        if self.op == "<":
            return bool(have < want)  # type: ignore[operator]
        if self.op == "<=":
            return bool(have <= want)  # type: ignore[operator]
        if self.op == ">":
            return bool(have > want)  # type: ignore[operator]
        return bool(have >= want)  # type: ignore[operator]

    def plain(self) -> list[Any]:
        return [self.field, self.op, list(self.value) if isinstance(self.value, tuple) else self.value]


@dataclass(frozen=True, slots=True)
class Filter:
    """Conditions that must all hold, in a canonical order (equal filters compare and hash equal)."""

    conds: tuple[Cond, ...]
    key: str = field(default="", compare=False)

    def matches(self, doc: Mapping[str, Any] | None) -> bool:
        """Whether a document (None: deleted) is in the subset."""
        return doc is not None and all(c.holds(doc) for c in self.conds)

    def transition(self, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> Transition | None:
        """What a change from ``old`` to ``new`` is for a subscriber of this filter: the document
        ``enter``s the subset, ``leave``s it (the client drops it), ``stay``s in it (an update),
        or None (not in the subset before or after: the subscriber hears nothing)."""
        was, now = self.matches(old), self.matches(new)
        if now:
            return "stay" if was else "enter"
        return "leave" if was else None

    def plain(self) -> list[list[Any]]:
        return [c.plain() for c in self.conds]

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(c.field for c in self.conds)


def _canonical(conds: Iterable[Cond]) -> tuple[Cond, ...]:
    def sort_key(c: Cond) -> tuple[str, str, str]:
        return (c.field, c.op, repr(c.value))

    # duplicates say nothing more: drop them so that equal subsets share one filter
    return tuple(sorted(set(conds), key=sort_key))


def make_filter(conds: Iterable[Cond]) -> Filter:
    canon = _canonical(conds)
    return Filter(canon, repr([c.plain() for c in canon]))


def parse_filter(raw: Any) -> Filter:
    """A filter from its wire or config form; :class:`FilterError` says what is wrong."""
    return make_filter(_conds(raw, "filter", lambda v, where: _scalar(v, where)))


def _conds(raw: Any, where: str, value: Any) -> list[Cond]:
    if isinstance(raw, Mapping):
        raw = [[k, "==", v] for k, v in raw.items()]
    if not isinstance(raw, list | tuple) or not raw:
        raise FilterError(
            f"{where}: a non-empty list of [field, op, value] conditions (or a map of equalities)"
        )
    if len(raw) > MAX_CONDS:
        raise FilterError(f"{where}: at most {MAX_CONDS} conditions")
    out: list[Cond] = []
    for i, c in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(c, list | tuple) or len(c) != 3:
            raise FilterError(f"{at}: a condition is [field, op, value]")
        f, op, v = c
        if not isinstance(f, str) or not 0 < len(f) <= MAX_FIELD:
            raise FilterError(f"{at}: the field is a name of 1..{MAX_FIELD} characters")
        if op not in OPS:
            raise FilterError(f"{at}: op must be one of {', '.join(OPS)}")
        if op == "in":
            if not isinstance(v, list | tuple) or not 0 < len(v) <= MAX_IN:
                raise FilterError(f"{at}: 'in' takes a list of 1..{MAX_IN} values")
            out.append(Cond(f, op, tuple(value(x, at) for x in v)))
        else:
            out.append(Cond(f, op, value(v, at)))
    return out


# ---------------------------------------------------------------------------- templates


@dataclass(frozen=True, slots=True)
class Template:
    """A named subscription's filter with ``{"param": p}`` / ``{"claim": c}`` placeholders."""

    name: str
    coll: str
    conds: tuple[tuple[str, str, Any], ...]

    @property
    def params(self) -> frozenset[str]:
        return frozenset(_placeholders(self.conds, "param"))


def _placeholders(conds: Iterable[tuple[str, str, Any]], kind: str) -> Iterable[str]:
    for _, _, v in conds:
        for x in v if isinstance(v, list | tuple) else [v]:
            if isinstance(x, Mapping) and kind in x:
                yield str(x[kind])


def parse_template(name: str, coll: str, raw: Any) -> Template:
    """A template from the config (checked now: a bad one stops the hub at start-up)."""

    def value(v: Any, where: str) -> Any:
        if isinstance(v, Mapping):
            if (
                len(v) != 1
                or not ({"param", "claim"} & set(v))
                or not isinstance(next(iter(v.values())), str)
            ):
                raise FilterError(f'{where}: a placeholder is {{param = "name"}} or {{claim = "name"}}')
            return dict(v)
        return _scalar(v, where)

    conds = _conds(raw, f"subscription {name!r}", value)
    return Template(name, coll, tuple((c.field, c.op, c.value) for c in conds))


def bind(t: Template, params: Mapping[str, Any] | None, claims: Mapping[str, Any]) -> Filter:
    """The filter of ``t`` for these parameters and claims. Every placeholder must be given; a
    claim that is absent binds nothing (the subscription is refused), a list claim (e.g. the
    user's teams) may only stand in an ``in`` condition or an ``==`` (which becomes ``in``)."""
    params = params or {}
    unknown = set(params) - t.params
    if unknown:
        raise FilterError(f"subscription {t.name!r}: unknown parameters {sorted(unknown)}")

    def resolve(x: Any, where: str) -> Any:
        if isinstance(x, Mapping):
            if "param" in x:
                if x["param"] not in params:
                    raise FilterError(f"subscription {t.name!r}: parameter {x['param']!r} missing")
                return _scalar(params[x["param"]], f"{where}: parameter {x['param']!r}")
            if x["claim"] not in claims or claims[x["claim"]] is None:
                raise FilterError(f"subscription {t.name!r}: the token has no claim {x['claim']!r}")
            got = claims[x["claim"]]
            if isinstance(got, list | tuple):
                return tuple(_scalar(v, where) for v in got)
            return _scalar(got, where)
        return x

    out: list[Cond] = []
    for i, (f, op, v) in enumerate(t.conds):
        where = f"subscription {t.name!r} [{i}]"
        if op == "in":
            vals: list[Scalar] = []
            for x in v:
                r = resolve(x, where)
                vals.extend(r if isinstance(r, tuple) else [r])
            if not vals or len(vals) > MAX_IN:
                raise FilterError(f"{where}: 'in' binds 1..{MAX_IN} values")
            out.append(Cond(f, "in", tuple(vals)))
            continue
        r = resolve(v, where)
        if isinstance(r, tuple):
            if op != "==":
                raise FilterError(f"{where}: a list claim can only be compared with == or in")
            if not r or len(r) > MAX_IN:
                raise FilterError(f"{where}: 'in' binds 1..{MAX_IN} values")
            out.append(Cond(f, "in", r))
        else:
            out.append(Cond(f, op, r))
    return make_filter(out)


# ---------------------------------------------------------------------------- index


@dataclass(slots=True)
class FilterIndex:
    """Distinct filters, counted by subscriptions, filed for lookup by change.

    A filter with an equality or ``in`` is filed under each of that condition's values (the
    condition chosen: the first ``==`` in canonical order, else the shortest ``in``); the others
    are kept aside and evaluated for every change (operators should give named subscriptions an
    equality)."""

    refs: dict[Filter, int] = field(default_factory=dict)
    buckets: dict[tuple[str, tuple[str, Any]], set[Filter]] = field(default_factory=dict)
    fields: dict[str, int] = field(default_factory=dict)  # indexed field -> filters filed under it
    unfiled: set[Filter] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.refs)

    @staticmethod
    def _anchor(f: Filter) -> Cond | None:
        eqs = [c for c in f.conds if c.op == "=="]
        if eqs:
            return eqs[0]
        ins = [c for c in f.conds if c.op == "in"]
        return min(ins, key=lambda c: len(c.value) if isinstance(c.value, tuple) else 1) if ins else None

    @staticmethod
    def _values(c: Cond) -> list[Scalar]:
        return list(c.value) if isinstance(c.value, tuple) else [c.value]

    def add(self, f: Filter) -> int:
        """Count one more subscription of ``f``; returns how many it has now."""
        n = self.refs.get(f, 0) + 1
        self.refs[f] = n
        if n == 1:
            anchor = self._anchor(f)
            if anchor is None:
                self.unfiled.add(f)
            else:
                self.fields[anchor.field] = self.fields.get(anchor.field, 0) + 1
                for v in self._values(anchor):
                    self.buckets.setdefault((anchor.field, value_key(v)), set()).add(f)
        return n

    def remove(self, f: Filter) -> int:
        """Count one subscription of ``f`` less; returns how many are left (0: forgotten)."""
        n = self.refs.get(f, 0) - 1
        if n > 0:
            self.refs[f] = n
            return n
        if f not in self.refs:
            return 0
        del self.refs[f]
        anchor = self._anchor(f)
        if anchor is None:
            self.unfiled.discard(f)
            return 0
        left = self.fields[anchor.field] - 1
        if left:
            self.fields[anchor.field] = left
        else:
            del self.fields[anchor.field]
        for v in self._values(anchor):
            key = (anchor.field, value_key(v))
            bucket = self.buckets.get(key)
            if bucket is not None:
                bucket.discard(f)
                if not bucket:
                    del self.buckets[key]
        return 0

    def candidates(self, doc: Mapping[str, Any] | None) -> set[Filter]:
        """Filters ``doc`` may match (a superset; :meth:`Filter.matches` decides)."""
        out = set(self.unfiled)
        if doc is None:
            return out
        for name in self.fields:
            bucket = self.buckets.get((name, value_key(doc.get(name))))
            if bucket:
                out |= bucket
        return out

    def affected(
        self, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
    ) -> list[tuple[Filter, Transition]]:
        """Every filter for which the change from ``old`` to ``new`` matters, with what it is."""
        out: list[tuple[Filter, Transition]] = []
        for f in self.candidates(old) | self.candidates(new):
            t = f.transition(old, new)
            if t is not None:
                out.append((f, t))
        return out
