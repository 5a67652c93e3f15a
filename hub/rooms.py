"""The ``[rooms]`` settings: presence timing, room message limits and who may use which room.

::

    [rooms]
    ttl_ms = 15000       # a presence entry not refreshed this long expires (its hub is gone)
    grace_ms = 5000      # a member whose connection closed stays listed this long (reconnects)
    state_bytes = 4096   # member state, msgpack bytes
    msg_bytes = 16384    # one broadcast, msgpack bytes
    msg_rate = 20.0      # broadcasts per second per connection (burst msg_burst)
    msg_burst = 40
    max_rooms = 32       # rooms one connection is in at once
    backups = 1          # backups of the presence cache

    [rooms.access."team-"]            # rooms whose name starts with "team-" (longest prefix wins)
    read = ["claim:team=red"]         # may join: be listed, see the members, receive broadcasts
    write = ["role:editor"]           # may broadcast

Rules are the collections' (hub/authz.py). Rooms no prefix matches get ``read = write =
["authenticated"]``; ``[rooms.access.""]`` changes that default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.auth.identity import Identity
from hub.authz import Rule, parse_rule
from hub.core.errors import HubUsageError
from hub.core.presence import RoomLimits

_INTS = ("ttl_ms", "grace_ms", "state_bytes", "msg_bytes", "msg_burst", "max_rooms", "backups")
_KEYS = frozenset({*_INTS, "msg_rate", "access"})
_DEFAULT = (Rule("authenticated"),)


@dataclass(frozen=True, slots=True)
class RoomAccess:
    read: tuple[Rule, ...] = _DEFAULT
    write: tuple[Rule, ...] = _DEFAULT


@dataclass(frozen=True, slots=True)
class RoomSettings:
    ttl_ms: int = 15_000
    grace_ms: int = 5_000
    state_bytes: int = 4096
    msg_bytes: int = 16_384
    msg_rate: float = 20.0
    msg_burst: int = 40
    max_rooms: int = 32
    backups: int = 1
    access: tuple[tuple[str, RoomAccess], ...] = field(default_factory=tuple)  # longest prefix first

    @property
    def limits(self) -> RoomLimits:
        return RoomLimits(self.state_bytes, self.msg_bytes, self.max_rooms)

    def rules(self, room: str) -> RoomAccess:
        return next((a for prefix, a in self.access if room.startswith(prefix)), RoomAccess())

    def can_join(self, identity: Identity, room: str) -> bool:
        return any(r.matches(identity) for r in self.rules(room).read)

    def can_broadcast(self, identity: Identity, room: str) -> bool:
        return any(r.matches(identity) for r in self.rules(room).write)


def parse_rooms(
    table: Mapping[str, Any], *, roles_claim: str = "roles", where: str = "[rooms]"
) -> RoomSettings:
    """Validate the ``[rooms]`` table.

    Raises:
        HubUsageError: unknown keys, wrong types, values out of range, malformed rules.
    """
    unknown = set(table) - _KEYS
    if unknown:
        raise HubUsageError(f"{where}: unknown key(s) {sorted(unknown)} (known: {', '.join(sorted(_KEYS))})")
    kwargs: dict[str, Any] = {}
    for key in _INTS:
        if key in table:
            value = table[key]
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or value < (0 if key == "backups" else 1)
            ):
                raise HubUsageError(f"{where}: {key} must be an integer >= {0 if key == 'backups' else 1}")
            kwargs[key] = value
    if "msg_rate" in table:
        rate = table["msg_rate"]
        if not isinstance(rate, int | float) or isinstance(rate, bool) or rate <= 0:
            raise HubUsageError(f"{where}: msg_rate must be a number > 0")
        kwargs["msg_rate"] = float(rate)
    access = table.get("access", {})
    if not isinstance(access, Mapping):
        raise HubUsageError(f"{where}: access must be a table of room name prefixes")
    compiled: list[tuple[str, RoomAccess]] = []
    for prefix, rules in access.items():
        if not isinstance(rules, Mapping) or set(rules) - {"read", "write"}:
            raise HubUsageError(f"{where}: access.{prefix!r} must be a table with read and/or write")

        def compile_list(
            name: str, rules: Mapping[str, Any] = rules, prefix: str = prefix
        ) -> tuple[Rule, ...]:
            entries = rules.get(name, ["authenticated"])
            if not isinstance(entries, list):
                raise HubUsageError(f"{where}: access.{prefix!r}.{name} must be a list of rules")
            try:
                return tuple(r for e in entries for r in parse_rule(e, roles_claim=roles_claim))
            except HubUsageError as exc:
                raise HubUsageError(f"{where}: access.{prefix!r}.{name}: {exc.message}") from exc

        compiled.append((prefix, RoomAccess(compile_list("read"), compile_list("write"))))
    compiled.sort(key=lambda pa: len(pa[0]), reverse=True)
    settings = RoomSettings(**kwargs, access=tuple(compiled))
    if settings.grace_ms >= settings.ttl_ms:
        raise HubUsageError(f"{where}: grace_ms must be below ttl_ms")
    return settings
