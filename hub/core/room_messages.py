"""Wire messages of rooms: presence and ephemeral broadcasts (docs/protocol.md "Rooms").

Client messages ``join``, ``pupdate``, ``leave`` and ``bcast`` (parsed here, registered in
:mod:`hub.core.messages`) and the hub messages ``members``, ``joined``, ``updated``, ``left``,
``bcast`` and ``rerror`` (a refused request). A hub that predates rooms answers ``join`` with close 4004
(unknown type): clients look for ``"rooms"`` in the ``features`` of ``welcome`` first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import BadMessage

MAX_ROOM_LEN = 256
MAX_TAG_LEN = 64
#: What ``welcome`` lists in ``features`` when the hub serves rooms.
FEATURE = "rooms"


@dataclass(frozen=True, slots=True)
class Join:
    """Enter ``room`` with ``state``; ``tag`` tells apart several members of one client (tabs)."""

    room: str
    state: Any
    tag: str


@dataclass(frozen=True, slots=True)
class PresenceUpdate:
    room: str
    state: Any
    tag: str


@dataclass(frozen=True, slots=True)
class Leave:
    room: str
    tag: str


@dataclass(frozen=True, slots=True)
class Broadcast:
    """An ephemeral message to the other members of ``room`` (never stored)."""

    room: str
    msg: Any
    tag: str


RoomMessage = Join | PresenceUpdate | Leave | Broadcast


def _room(obj: Mapping[str, Any]) -> str:
    value = obj.get("room")
    if not isinstance(value, str) or not value or len(value) > MAX_ROOM_LEN:
        raise BadMessage(f"field 'room' must be a string of 1..{MAX_ROOM_LEN} characters")
    return value


def _tag(obj: Mapping[str, Any]) -> str:
    value = obj.get("tag", "")
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_TAG_LEN:
        raise BadMessage(f"field 'tag' must be nil or a string of at most {MAX_TAG_LEN} characters")
    return value


PARSERS: dict[str, Any] = {
    "join": lambda o: Join(_room(o), o.get("state"), _tag(o)),
    "pupdate": lambda o: PresenceUpdate(_room(o), o.get("state"), _tag(o)),
    "leave": lambda o: Leave(_room(o), _tag(o)),
    "bcast": lambda o: Broadcast(_room(o), o.get("msg"), _tag(o)),
}


def member_id(client: str, tag: str) -> str:
    """A member's id: its client id (stable across reconnects), plus the tag when there is one."""
    return f"{client}#{tag}" if tag else client


# --------------------------------------------------------------------------- hub messages


def members(room: str, listed: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The room's members (the joiner included), sent once per ``join``."""
    return {"t": "members", "room": room, "members": [dict(m) for m in listed]}


def delta(kind: str, room: str, member: Mapping[str, Any]) -> dict[str, Any]:
    """``joined`` / ``updated`` carry the member; ``left`` carries its ``id`` (and ``user``)."""
    if kind == "left":
        return {"t": "left", "room": room, "id": member["id"], "user": member.get("user")}
    return {"t": kind, "room": room, "member": dict(member)}


def bcast(room: str, sender: str, user: str | None, msg: Any) -> dict[str, Any]:
    return {"t": "bcast", "room": room, "from": sender, "user": user, "msg": msg}


def room_error(room: str, code: int, msg: str) -> dict[str, Any]:
    """A refused room request (the connection stays open). Not an ``error`` frame: a room frame
    like the others, which clients hand to their rooms."""
    return {"t": "rerror", "room": room, "code": code, "msg": msg}
