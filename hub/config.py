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
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from hub.core.conflict import MergeHook, Policy
from hub.core.errors import HubUsageError
from hub.store.base import CollectionSpec

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class HubSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    ping_ms: int = 15_000
    max_frame: int = 1 << 20
    max_batch: int = 500
    queue_bytes: int = 4 << 20
    catchup_overlap_ms: int = 30_000
    tombstone_retention_ms: int = 7 * 24 * 3600 * 1000
    dev_auth: bool = False
    tokens: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    static_dir: str | None = None


@dataclass(frozen=True, slots=True)
class IgniteSettings:
    addresses: tuple[Address, ...] = (("127.0.0.1", 10800),)


@dataclass(frozen=True, slots=True)
class Config:
    hub: HubSettings = field(default_factory=HubSettings)
    ignite: IgniteSettings = field(default_factory=IgniteSettings)
    collections: tuple[CollectionSpec, ...] = ()
    auth: Mapping[str, Any] | None = None  # the [auth] table, see hub/auth.py

    def collection(self, name: str) -> CollectionSpec | None:
        return next((c for c in self.collections if c.name == name), None)


_HUB_TYPES: dict[str, Any] = {
    "host": str,
    "port": int,
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
}
_COLL_TYPES: dict[str, Any] = {
    "cache": str,
    "value_type": str,
    "policy": str,
    "merge": str,
    "writable": bool,
    "atomicity": str,
    "backups": int,
}
_POSITIVE = ("port", "ping_ms", "max_frame", "max_batch", "queue_bytes")


def _check_keys(where: str, table: Mapping[str, Any], allowed: Mapping[str, Any]) -> None:
    for key, value in table.items():
        if key not in allowed:
            raise HubUsageError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(allowed))})")
        want = allowed[key]
        ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
        if not ok:
            raise HubUsageError(f"{where}: {key!r} must be {want.__name__}, not {type(value).__name__}")


def _str_list(where: str, key: str, value: list[Any]) -> tuple[str, ...]:
    if not all(isinstance(v, str) for v in value):
        raise HubUsageError(f"{where}: {key!r} must be a list of strings")
    return tuple(value)


def parse_address(text: str, where: str = "ignite") -> Address:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise HubUsageError(f"{where}: address {text!r} must look like host:port")
    return (host, int(port))


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
    if table.get("backups", 0) < 0:
        raise HubUsageError(f"{where}: backups must be >= 0")
    return CollectionSpec(
        name=name,
        cache=table.get("cache", ""),
        value_type=table.get("value_type", ""),
        policy=policy,
        merge=merge,
        writable=table.get("writable", True),
        atomicity=atomicity,
        backups=table.get("backups", 0),
    )


def parse_config(
    data: Mapping[str, Any], env: Mapping[str, str] | None = None, src: str = "config"
) -> Config:
    """Build a validated Config from a parsed TOML document and environment overrides."""
    _check_keys(src, data, {"hub": dict, "ignite": dict, "collections": dict, "auth": dict})
    hub_table = dict(data.get("hub", {}))
    _check_keys(f"{src}: [hub]", hub_table, _HUB_TYPES)
    ignite_table = dict(data.get("ignite", {}))
    _check_keys(f"{src}: [ignite]", ignite_table, {"addresses": list})

    env = os.environ if env is None else env
    hub_kwargs: dict[str, Any] = {}
    for f in fields(HubSettings):
        if f.name in hub_table:
            value = hub_table[f.name]
            hub_kwargs[f.name] = (
                _str_list(f"{src}: [hub]", f.name, value) if isinstance(value, list) else value
            )
    hub_kwargs.update(_env_hub(env))
    hub = HubSettings(**hub_kwargs)
    for key in _POSITIVE:
        if getattr(hub, key) <= 0:
            raise HubUsageError(f"{src}: [hub] {key} must be > 0")
    if hub.catchup_overlap_ms < 0 or hub.tombstone_retention_ms < 0:
        raise HubUsageError(f"{src}: [hub] catchup_overlap_ms and tombstone_retention_ms must be >= 0")

    ignite = IgniteSettings()
    if "addresses" in ignite_table:
        addrs = _str_list(f"{src}: [ignite]", "addresses", ignite_table["addresses"])
        ignite = IgniteSettings(tuple(parse_address(a, f"{src}: [ignite]") for a in addrs))
    if env.get("SYNCHUB_IGNITE"):
        parts = [p for p in env["SYNCHUB_IGNITE"].split(",") if p.strip()]
        ignite = IgniteSettings(tuple(parse_address(p, "SYNCHUB_IGNITE") for p in parts))
    if not ignite.addresses:
        raise HubUsageError(f"{src}: [ignite] addresses must not be empty")

    colls_table = data.get("collections", {})
    specs = []
    for name, table in colls_table.items():
        if not isinstance(table, dict):
            raise HubUsageError(f"{src}: [collections.{name}] must be a table")
        specs.append(_collection(name, table, src))
    auth = data.get("auth")
    if auth is not None:
        from hub.auth import authenticator_from_config

        try:
            authenticator_from_config(auth)
        except HubUsageError as exc:
            raise HubUsageError(f"{src}: [auth] {exc.message}") from exc
    return Config(hub, ignite, tuple(specs), auth)


def _env_hub(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(HubSettings):
        raw = env.get(f"SYNCHUB_{f.name.upper()}")
        if raw is None:
            continue
        want = _HUB_TYPES[f.name]
        name = f"SYNCHUB_{f.name.upper()}"
        if want is bool:
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise HubUsageError(f"{name}: expected a boolean, got {raw!r}")
            out[f.name] = raw.lower() in ("1", "true", "yes", "on")
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


def with_collections(config: Config, *specs: CollectionSpec) -> Config:
    """A copy of ``config`` with ``specs`` added (replacing same-named collections)."""
    names = {s.name for s in specs}
    return replace(config, collections=tuple(c for c in config.collections if c.name not in names) + specs)
