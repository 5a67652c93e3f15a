"""Hub configuration: a TOML file plus ``SYNCHUB_*`` environment overrides, validated up front.

Every mistake raises :class:`hub.core.errors.HubUsageError` naming the file, the section and the
key: unknown keys, wrong types, unknown policies, merge hooks that cannot be imported.
See docs/operations.md for the reference.
"""

from __future__ import annotations

import importlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from hub.core.conflict import MergeHook, Policy
from hub.core.errors import HubUsageError
from hub.core.query import Template
from hub.core.types import CollectionSpec
from hub.igniteconfig import IGNITE_TYPES, IgniteSettings, env_bool, parse_ignite, str_list
from hub.queryconfig import parse_fields, parse_subscriptions
from hub.rooms import RoomSettings, parse_rooms


@dataclass(frozen=True, slots=True)
class HubSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 0  # hub processes sharing the port (SO_REUSEPORT); 0 = one per core
    ping_ms: int = 15_000
    max_frame: int = 1 << 20
    max_batch: int = 500
    queue_bytes: int = 4 << 20
    catchup_overlap_ms: int = 0  # extra re-read before a cursor; not needed for correctness
    tombstone_retention_ms: int = 7 * 24 * 3600 * 1000
    dev_auth: bool = False
    tokens: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    static_dir: str | None = None
    # ---- limits (docs/security.md §6)
    msg_rate: float = 200.0  # client messages per second per connection
    msg_burst: int = 500
    # Sustained mutations per second per connection; the burst lets an offline client replay a
    # large outbox (10k writes) at full speed on reconnect.
    mut_rate: float = 2000.0
    mut_burst: int = 20000  # 0 = 2 x max_batch
    max_conns_per_subject: int = 20  # 0 = unlimited; not applied with dev_auth
    connect_rate: float = 0.0  # new connections per second per client address; 0 = off
    connect_burst: int = 30
    # new connections are refused (4532, retry later) while the event loop runs this late: a
    # starved hub keeps serving the clients it has; 0 = off (docs/operations.md "Overload")
    overload_lag_ms: int = 0
    hello_timeout_ms: int = 10_000
    ws_deflate: bool = False  # permessage-deflate (bounded by max_frame when on)
    # ---- operations
    shutdown_deadline_ms: int = 10_000  # SIGTERM: drain, close with 4500, exit within this
    gc_interval_ms: int = 3_600_000  # tombstone GC period; 0 = off
    sweep_partitions: int = 16  # partitions reconciled per collection per second; 0 = off
    sweep_share: float = 0.1  # and at most about this share of a hub process's time (0 < x <= 1)
    dedup_ttl_ms: int = 30 * 24 * 3600 * 1000  # dedup records of clients silent this long expire
    python_gc: str = (
        "freeze"  # "freeze": survivors of full collections out of the collector's walk (gcpolicy.py)
    )
    log_writes: bool = False  # one info line per committed write batch: an audit trail for diagnosis
    roles_claim: str = "roles"
    log_level: str = "INFO"
    log_json: bool = True


@dataclass(frozen=True, slots=True)
class Config:
    hub: HubSettings = field(default_factory=HubSettings)
    ignite: IgniteSettings = field(default_factory=IgniteSettings)
    collections: tuple[CollectionSpec, ...] = ()
    auth: Mapping[str, Any] | None = None  # the [auth] table, see hub/auth.py
    access: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # [collections.X.access]
    rooms: RoomSettings = field(default_factory=RoomSettings)  # [rooms], hub/rooms.py
    # [collections.X.subscriptions.NAME] (hub/queryconfig.py): named query subscriptions
    subscriptions: Mapping[str, Mapping[str, Template]] = field(default_factory=dict)

    def collection(self, name: str) -> CollectionSpec | None:
        return next((c for c in self.collections if c.name == name), None)


_HUB_TYPES: dict[str, Any] = {
    "host": str,
    "port": int,
    "workers": int,
    "ping_ms": int,
    "max_frame": int,
    "max_batch": int,
    "queue_bytes": int,
    "catchup_overlap_ms": int,
    "tombstone_retention_ms": int,
    "dev_auth": bool,
    "tokens": list,
    "origins": list,
    "static_dir": str,
    "msg_rate": (int, float),
    "msg_burst": int,
    "mut_rate": (int, float),
    "mut_burst": int,
    "max_conns_per_subject": int,
    "connect_rate": (int, float),
    "connect_burst": int,
    "overload_lag_ms": int,
    "hello_timeout_ms": int,
    "ws_deflate": bool,
    "shutdown_deadline_ms": int,
    "gc_interval_ms": int,
    "sweep_partitions": int,
    "sweep_share": (int, float),
    "dedup_ttl_ms": int,
    "log_writes": bool,
    "python_gc": str,
    "roles_claim": str,
    "log_level": str,
    "log_json": bool,
}
_COLL_TYPES: dict[str, Any] = {
    "cache": str,
    "value_type": str,
    "policy": str,
    "merge": str,
    "writable": bool,
    "atomicity": str,
    "backups": int,
    "access": dict,
    "fields": dict,
    "subscriptions": dict,
}
_POSITIVE = (
    "port",
    "ping_ms",
    "max_frame",
    "max_batch",
    "queue_bytes",
    "msg_rate",
    "msg_burst",
    "mut_rate",
    "hello_timeout_ms",
    "shutdown_deadline_ms",
)
_NON_NEGATIVE = (
    "workers",
    "mut_burst",
    "max_conns_per_subject",
    "connect_rate",
    "connect_burst",
    "overload_lag_ms",
    "gc_interval_ms",
    "sweep_partitions",
)


def _check_keys(where: str, table: Mapping[str, Any], allowed: Mapping[str, Any]) -> None:
    for key, value in table.items():
        if key not in allowed:
            raise HubUsageError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(allowed))})")
        want = allowed[key]
        ok = isinstance(value, want) and not (want is not bool and isinstance(value, bool))
        if not ok:
            name = " or ".join(w.__name__ for w in want) if isinstance(want, tuple) else want.__name__
            raise HubUsageError(f"{where}: {key!r} must be {name}, not {type(value).__name__}")


def import_hook(spec: str, where: str) -> MergeHook:
    """Import ``module:function``."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise HubUsageError(f"{where}: merge hook {spec!r} must look like 'module:function'")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise HubUsageError(f"{where}: cannot import merge hook module {module_name!r}: {exc}") from exc
    hook = getattr(module, attr, None)
    if not callable(hook):
        raise HubUsageError(f"{where}: {module_name!r} has no callable {attr!r}")
    result: MergeHook = hook
    return result


def _collection(name: str, table: Mapping[str, Any], src: str) -> CollectionSpec:
    where = f"{src}: [collections.{name}]"
    _check_keys(where, table, _COLL_TYPES)
    try:
        policy = Policy(table.get("policy", "lww"))
    except ValueError:
        raise HubUsageError(
            f"{where}: policy {table['policy']!r} is not one of {', '.join(p.value for p in Policy)}"
        ) from None
    merge = import_hook(table["merge"], where) if "merge" in table else None
    if policy is Policy.MERGE and merge is None:
        raise HubUsageError(f"{where}: policy 'merge' needs merge = 'module:function'")
    atomicity = table.get("atomicity", "TRANSACTIONAL")
    if atomicity not in ("TRANSACTIONAL", "ATOMIC"):
        raise HubUsageError(f"{where}: atomicity must be TRANSACTIONAL or ATOMIC")
    if table.get("backups", 1) < 0:
        raise HubUsageError(f"{where}: backups must be >= 0")
    return CollectionSpec(
        name=name,
        cache=table.get("cache", ""),
        value_type=table.get("value_type", ""),
        policy=policy,
        merge=merge,
        writable=table.get("writable", True),
        atomicity=atomicity,
        backups=table.get("backups", 1),
        fields=parse_fields(where, table.get("fields", {})),
    )


def parse_config(
    data: Mapping[str, Any], env: Mapping[str, str] | None = None, src: str = "config"
) -> Config:
    """Build a validated Config from a parsed TOML document and environment overrides."""
    _check_keys(src, data, {"hub": dict, "ignite": dict, "collections": dict, "auth": dict, "rooms": dict})
    hub_table = dict(data.get("hub", {}))
    _check_keys(f"{src}: [hub]", hub_table, _HUB_TYPES)
    ignite_table = dict(data.get("ignite", {}))
    _check_keys(f"{src}: [ignite]", ignite_table, IGNITE_TYPES)

    env = os.environ if env is None else env
    hub_kwargs: dict[str, Any] = {}
    for f in fields(HubSettings):
        if f.name in hub_table:
            value = hub_table[f.name]
            hub_kwargs[f.name] = (
                str_list(f"{src}: [hub]", f.name, value) if isinstance(value, list) else value
            )
    hub_kwargs.update(_env_hub(env))
    hub = HubSettings(**hub_kwargs)
    for key in _POSITIVE:
        if getattr(hub, key) <= 0:
            raise HubUsageError(f"{src}: [hub] {key} must be > 0")
    for key in _NON_NEGATIVE:
        if getattr(hub, key) < 0:
            raise HubUsageError(f"{src}: [hub] {key} must be >= 0")
    if 0 < hub.mut_burst < hub.max_batch:
        raise HubUsageError(f"{src}: [hub] mut_burst must be >= max_batch (a full batch must fit)")
    if hub.python_gc not in ("freeze", "default"):
        raise HubUsageError(f"{src}: [hub] python_gc must be freeze or default")
    if hub.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise HubUsageError(f"{src}: [hub] log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    if not 0 < hub.sweep_share <= 1:
        raise HubUsageError(f"{src}: [hub] sweep_share must be > 0 and <= 1")
    if hub.catchup_overlap_ms < 0 or hub.tombstone_retention_ms < 0:
        raise HubUsageError(f"{src}: [hub] catchup_overlap_ms and tombstone_retention_ms must be >= 0")

    ignite = parse_ignite(ignite_table, env, src)

    colls_table = data.get("collections", {})
    specs = []
    subs: dict[str, Mapping[str, Template]] = {}
    access: dict[str, Mapping[str, Any]] = {}
    for name, table in colls_table.items():
        if not isinstance(table, dict):
            raise HubUsageError(f"{src}: [collections.{name}] must be a table")
        specs.append(spec := _collection(name, table, src))
        if "subscriptions" in table:
            where = f"{src}: [collections.{name}]"
            subs[name] = parse_subscriptions(where, name, spec.fields, table["subscriptions"])
        if "access" in table:
            access[name] = table["access"]
    if access:
        from hub.authz import policy_from_config

        try:
            policy_from_config({n: {"access": a} for n, a in access.items()}, roles_claim=hub.roles_claim)
        except HubUsageError as exc:
            raise HubUsageError(f"{src}: {exc.message}") from exc
    auth = data.get("auth")
    if auth is not None:
        from hub.auth.factory import authenticator_from_config

        try:
            authenticator_from_config(auth)
        except HubUsageError as exc:
            raise HubUsageError(f"{src}: [auth] {exc.message}") from exc
    rooms = parse_rooms(data.get("rooms", {}), roles_claim=hub.roles_claim, where=f"{src}: [rooms]")
    return Config(hub, ignite, tuple(specs), auth, access, rooms, subs)


def _env_hub(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(HubSettings):
        raw = env.get(f"SYNCHUB_{f.name.upper()}")
        if raw is None:
            continue
        want = _HUB_TYPES[f.name]
        name = f"SYNCHUB_{f.name.upper()}"
        if want is bool:
            out[f.name] = env_bool(name, raw)
        elif want == (int, float):
            try:
                out[f.name] = float(raw)
            except ValueError:
                raise HubUsageError(f"{name}: expected a number, got {raw!r}") from None
        elif want is int:
            try:
                out[f.name] = int(raw)
            except ValueError:
                raise HubUsageError(f"{name}: expected an integer, got {raw!r}") from None
        elif want is list:
            out[f.name] = tuple(p.strip() for p in raw.split(",") if p.strip())
        else:
            out[f.name] = raw
    return out


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read ``path`` (TOML) if given, apply ``SYNCHUB_*`` overrides and validate.

    Raises:
        HubUsageError: the file is missing or unreadable, or any setting is invalid.
    """
    if path is None:
        return parse_config({}, env, "environment")
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise HubUsageError(f"config file {p} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise HubUsageError(f"{p}: invalid TOML: {exc}") from exc
    return parse_config(data, env, str(p))
