"""Wire messages (docs/protocol.md): typed client messages and builders for hub messages.

:func:`parse` turns a decoded frame (a plain map) into one of the frozen client message classes
or raises :class:`BadMessage` (4001) / :class:`UnknownType` (4004) / :class:`BadFrame` (4000).
Unknown fields are ignored. A ``mut`` frame whose batch is well formed but holds an invalid
mutation is *not* a protocol error: that mutation becomes an :class:`InvalidMutation` and is
answered with an ``error`` result (code 4001), the rest of the batch is applied.

Hub messages are built as plain maps by the functions at the end (``welcome`` ... ``pong``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .cursor import Cursor
from .doc import ID_FIELD, check_id
from .errors import BadFrame, BadMessage, UnknownType
from .limits import DEFAULT_DOC_LIMITS, OVERSIZE, DocLimits, fit
from .room_messages import PARSERS as ROOM_PARSERS
from .room_messages import RoomMessage

MAX_CLIENT_ID = 128
MAX_COLL_LEN = 256
MAX_TOKEN_LEN = 8192
INT64_MAX = (1 << 63) - 1
MAX_FEATURES = 16
#: ``hello.features``: the client takes a message that is a msgpack array of frames (docs/protocol.md).
BATCH_FEATURE = "batch"


# --------------------------------------------------------------------------- client messages


@dataclass(frozen=True, slots=True)
class Hello:
    v: tuple[int, ...]
    client: str
    token: str | None
    app: str | None
    now: int | None = None  # the client's wall clock (ms) when it sent hello: its clock error
    features: frozenset[str] = frozenset()  # optional parts of the protocol the client takes


@dataclass(frozen=True, slots=True)
class Auth:
    """In-band credential refresh (docs/security.md §2)."""

    token: str


@dataclass(frozen=True, slots=True)
class Sub:
    """``filter`` (the client's, validated by hub/core/subsets.py) or ``name`` + ``params`` (a
    named subscription) make it a query subscription: a subset of ``coll``, one per ``id``."""

    id: int
    coll: str
    cursor: Cursor | None
    filter: Any = None
    name: str | None = None
    params: Mapping[str, Any] | None = None

    @property
    def query(self) -> bool:
        return self.filter is not None or self.name is not None


@dataclass(frozen=True, slots=True)
class Unsub:
    coll: str
    id: int | None = None  # a query subscription's id; None: every subscription of ``coll``


@dataclass(frozen=True, slots=True)
class MutationIn:
    """One valid client mutation (``doc`` without its ``id`` field)."""

    seq: int
    coll: str
    id: str
    op: Literal["put", "del"]
    doc: Mapping[str, Any] | None
    ts: int
    base: int | None


@dataclass(frozen=True, slots=True)
class InvalidMutation:
    """A mutation with a usable ``seq`` but invalid fields; answered with an error result."""

    seq: int
    msg: str


@dataclass(frozen=True, slots=True)
class Mut:
    batch: tuple[MutationIn | InvalidMutation, ...]


@dataclass(frozen=True, slots=True)
class Ping:
    n: int


@dataclass(frozen=True, slots=True)
class Pong:
    n: int


ClientMessage = Hello | Auth | Sub | Unsub | Mut | Ping | Pong | RoomMessage


# --------------------------------------------------------------------------- field checks


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -INT64_MAX - 1 <= value <= INT64_MAX


def _int(obj: Mapping[str, Any], key: str, *, minimum: int | None = None) -> int:
    value = obj.get(key)
    if not _is_int(value):
        raise BadMessage(f"field {key!r} must be an int")
    assert isinstance(value, int)
    if minimum is not None and value < minimum:
        raise BadMessage(f"field {key!r} must be >= {minimum}")
    return value


def _str(obj: Mapping[str, Any], key: str, *, max_len: int = MAX_COLL_LEN, empty: bool = False) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or (not value and not empty) or len(value) > max_len:
        raise BadMessage(f"field {key!r} must be a string of 1..{max_len} characters")
    return value


def _opt_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise BadMessage(f"field {key!r} must be a string or nil")
    return value


def _cursor(value: object) -> Cursor | None:
    if value is None:
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and _is_int(value[1])
        and value[1] >= 0
    ):
        return (value[0], value[1])
    raise BadMessage("field 'cursor' must be nil or [epoch: str, ver: int >= 0]")


def _mutation(raw: object) -> MutationIn | InvalidMutation:
    if not isinstance(raw, dict):
        raise BadMessage("a mutation must be a map")
    seq = _int(raw, "seq", minimum=1)
    try:
        coll = _str(raw, "coll")
        doc_id = check_id(raw.get("id"))
        op = raw.get("op")
        if op not in ("put", "del"):
            raise BadMessage("'op' must be 'put' or 'del'")
        ts = _int(raw, "ts")
        base = raw.get("base")
        if base is not None and not (_is_int(base) and base >= 0):
            raise BadMessage("'base' must be nil or an int >= 0")
        doc = raw.get("doc")
        if op == "put":
            if not isinstance(doc, dict):
                raise BadMessage("'doc' must be a map for 'put'")
            if ID_FIELD in doc and doc[ID_FIELD] != doc_id:
                raise BadMessage("the document's 'id' field differs from the mutation's 'id'")
            if OVERSIZE in doc:  # a placeholder written back would replace the real document
                raise BadMessage(f"field {OVERSIZE!r} is reserved")
            doc = {k: v for k, v in doc.items() if k != ID_FIELD}
        else:
            doc = None
    except BadMessage as exc:
        return InvalidMutation(seq, exc.message)
    return MutationIn(seq, coll, doc_id, op, doc, ts, base)


def _parse_hello(obj: Mapping[str, Any]) -> Hello:
    versions = obj.get("v")
    if not isinstance(versions, list) or not versions or not all(_is_int(v) for v in versions):
        raise BadMessage("field 'v' must be a non-empty list of ints")
    client = _str(obj, "client", max_len=MAX_CLIENT_ID)
    now = obj.get("now")
    if now is not None and not (isinstance(now, int | float) and not isinstance(now, bool) and now >= 0):
        raise BadMessage("field 'now' must be nil or a number of ms >= 0")
    features = obj.get("features")
    if features is not None and not (
        isinstance(features, list)
        and len(features) <= MAX_FEATURES
        and all(isinstance(f, str) and len(f) <= 32 for f in features)
    ):
        raise BadMessage(f"field 'features' must be nil or at most {MAX_FEATURES} short strings")
    return Hello(
        tuple(versions),
        client,
        _opt_str(obj, "token"),
        _opt_str(obj, "app"),
        None if now is None else int(now),
        frozenset(features or ()),
    )


def _parse_sub(obj: Mapping[str, Any]) -> Sub:
    name = _opt_str(obj, "name")
    params = obj.get("params")
    if params is not None and not isinstance(params, dict):
        raise BadMessage("field 'params' must be a map or nil")
    if obj.get("filter") is not None and name is not None:
        raise BadMessage("a sub has a 'filter' or a 'name', not both")
    return Sub(
        _int(obj, "id"), _str(obj, "coll"), _cursor(obj.get("cursor")), obj.get("filter"), name, params
    )


def _parse_unsub(obj: Mapping[str, Any]) -> Unsub:
    sub_id = obj.get("id")
    if sub_id is not None and not _is_int(sub_id):
        raise BadMessage("field 'id' must be an int or nil")
    return Unsub(_str(obj, "coll"), sub_id)


def _parse_mut(obj: Mapping[str, Any]) -> Mut:
    batch = obj.get("batch")
    if not isinstance(batch, list) or not batch:
        raise BadMessage("field 'batch' must be a non-empty list")
    return Mut(tuple(_mutation(m) for m in batch))


_PARSERS: dict[str, Any] = {
    "hello": _parse_hello,
    "sub": _parse_sub,
    "unsub": _parse_unsub,
    "mut": _parse_mut,
    "ping": lambda o: Ping(_int(o, "n")),
    "auth": lambda o: Auth(_str(o, "token", max_len=MAX_TOKEN_LEN)),
    "pong": lambda o: Pong(_int(o, "n")),
    **ROOM_PARSERS,  # join, pupdate, leave, bcast (room_messages.py)
}


def parse(obj: object) -> ClientMessage:
    """Validate a decoded frame.

    Raises:
        BadFrame: the frame is not a map.
        UnknownType: ``t`` is missing or names no client message.
        BadMessage: a known message with missing or wrongly typed fields.
    """
    if not isinstance(obj, dict):
        raise BadFrame("a frame must be a msgpack map")
    kind = obj.get("t")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise UnknownType(f"unknown message type {kind!r}")
    message: ClientMessage = parser(obj)
    return message


# --------------------------------------------------------------------------- hub messages


class ChangeLike(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def ver(self) -> int: ...

    @property
    def doc(self) -> Mapping[str, Any] | None: ...


def change(c: ChangeLike, limits: DocLimits = DEFAULT_DOC_LIMITS) -> list[Any]:
    """The wire form ``[id, ver, doc|nil]`` of a change; a document beyond ``limits`` travels as
    its placeholder (hub/core/limits.py)."""
    doc = fit(c.doc, limits)
    return [c.id, c.ver, None if doc is None else dict(doc)]


def changes(cs: Iterable[ChangeLike], limits: DocLimits = DEFAULT_DOC_LIMITS) -> list[list[Any]]:
    return [change(c, limits) for c in cs]


def welcome(
    v: int,
    hub: str,
    ping_ms: int,
    max_batch: int,
    max_frame: int,
    user: str | None = None,
    doc_limits: DocLimits = DEFAULT_DOC_LIMITS,
    features: Sequence[str] = (),
) -> dict[str, Any]:
    """``user``: the authenticated subject (None when anonymous), so a client whose local data
    belongs to another user can stop before it replays anything. ``features``: optional parts of
    protocol v1 this hub serves (``"rooms"``), so a client never sends what the hub would refuse."""
    return {
        "t": "welcome",
        "v": v,
        "hub": hub,
        "ping_ms": ping_ms,
        "max_batch": max_batch,
        "max_frame": max_frame,
        "user": user,
        "doc_limits": doc_limits.to_wire(),
        "features": list(features),
    }


def page(
    coll: str,
    sub_id: int,
    cs: Sequence[ChangeLike],
    done: int,
    total: int | None,
    cursor: Cursor | None = None,
    limits: DocLimits = DEFAULT_DOC_LIMITS,
) -> dict[str, Any]:
    """``cursor``: where a catch-up may resume if this sync is interrupted (None: nowhere yet)."""
    return {**page_head(coll, sub_id, done, total, cursor), "changes": changes(cs, limits)}


def page_head(coll: str, sub_id: int, done: int, total: int | None, cursor: Cursor | None) -> dict[str, Any]:
    """A ``page`` without its ``changes`` (which come last: a hub may add them already encoded)."""
    return {
        "t": "page",
        "coll": coll,
        "id": sub_id,
        "done": done,
        "total": total,
        "cursor": None if cursor is None else list(cursor),
    }


def synced(coll: str, sub_id: int, cursor: Cursor, mode: str, reset: bool) -> dict[str, Any]:
    return {"t": "synced", "coll": coll, "id": sub_id, "cursor": list(cursor), "mode": mode, "reset": reset}


def resync(coll: str, reason: str, mode: str) -> dict[str, Any]:
    return {"t": "resync", "coll": coll, "reason": reason, "mode": mode}


def chg(
    coll: str, cs: Sequence[ChangeLike], cursor: Cursor, limits: DocLimits = DEFAULT_DOC_LIMITS
) -> dict[str, Any]:
    return {"t": "chg", "coll": coll, "changes": changes(cs, limits), "cursor": list(cursor)}


def ack(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"t": "ack", "results": [dict(r) for r in results]}


def authed(exp: int | None) -> dict[str, Any]:
    """An ``auth`` refresh was accepted; ``exp`` is the new credential's expiry (Unix seconds)."""
    return {"t": "authed", "exp": exp}


def unsub(coll: str, sub_id: int, code: int, msg: str) -> dict[str, Any]:
    """The hub ended a subscription (4403: the refreshed credential may no longer read it)."""
    return {"t": "unsub", "coll": coll, "id": sub_id, "code": code, "msg": msg}


def error(code: int, msg: str, ref: int | None = None) -> dict[str, Any]:
    return {"t": "error", "code": code, "msg": msg, "ref": ref}


def ping(n: int) -> dict[str, Any]:
    return {"t": "ping", "n": n}


def pong(n: int) -> dict[str, Any]:
    return {"t": "pong", "n": n}


def error_result(seq: int, code: int, msg: str) -> dict[str, Any]:
    """A result for a mutation that was not applied: no ``doc`` (the hub has not read or changed
    anything; the client restores its last synced copy)."""
    return {"seq": seq, "s": "error", "ver": 0, "code": code, "msg": msg}
