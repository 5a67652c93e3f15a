"""The ``[ignite]`` settings: cluster addresses, authentication and TLS (docs/operations.md).

Split out of hub/config.py, which reads the whole file and calls :func:`parse_ignite`.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.core.errors import HubUsageError

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class IgniteSettings:
    addresses: tuple[Address, ...] = (("127.0.0.1", 10800),)
    username: str | None = None
    password: str | None = None
    use_ssl: bool = False
    ssl_keyfile: str | None = None
    ssl_certfile: str | None = None
    ssl_ca_certfile: str | None = None
    connect_timeout_ms: int = 10_000  # `synchub serve` gives up at start after this

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``pyignite.AioClient`` (authentication and TLS)."""
        out: dict[str, Any] = {}
        if self.username is not None:
            out["username"] = self.username
            out["password"] = self.password or ""
        if self.use_ssl:
            out["use_ssl"] = True
            for key in ("ssl_keyfile", "ssl_certfile", "ssl_ca_certfile"):
                value = getattr(self, key)
                if value is not None:
                    out[key] = value
            if self.ssl_ca_certfile is not None:
                # pyignite's default is ssl.CERT_NONE: a CA file alone would verify nothing.
                out["ssl_cert_reqs"] = ssl.CERT_REQUIRED
        return out


IGNITE_TYPES: dict[str, Any] = {
    "addresses": list,
    "username": str,
    "password": str,
    "password_env": str,
    "use_ssl": bool,
    "ssl_keyfile": str,
    "ssl_certfile": str,
    "ssl_ca_certfile": str,
    "connect_timeout_ms": int,
}


def str_list(where: str, key: str, value: list[Any]) -> tuple[str, ...]:
    if not all(isinstance(v, str) for v in value):
        raise HubUsageError(f"{where}: {key!r} must be a list of strings")
    return tuple(value)


def parse_address(text: str, where: str = "ignite") -> Address:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise HubUsageError(f"{where}: address {text!r} must look like host:port")
    return (host, int(port))


def parse_ignite(table: Mapping[str, Any], env: Mapping[str, str], src: str) -> IgniteSettings:
    where = f"{src}: [ignite]"
    kwargs: dict[str, Any] = {}
    if "addresses" in table:
        addrs = str_list(where, "addresses", table["addresses"])
        kwargs["addresses"] = tuple(parse_address(a, where) for a in addrs)
    if env.get("SYNCHUB_IGNITE"):
        parts = [p for p in env["SYNCHUB_IGNITE"].split(",") if p.strip()]
        kwargs["addresses"] = tuple(parse_address(p, "SYNCHUB_IGNITE") for p in parts)
    for key in ("username", "password", "use_ssl", "ssl_keyfile", "ssl_certfile", "ssl_ca_certfile"):
        if key in table:
            kwargs[key] = table[key]
    if "connect_timeout_ms" in table:
        if table["connect_timeout_ms"] <= 0:
            raise HubUsageError(f"{where} connect_timeout_ms must be > 0")
        kwargs["connect_timeout_ms"] = table["connect_timeout_ms"]
    if "password_env" in table:
        if "password" in table:
            raise HubUsageError(f"{where}: set password or password_env, not both")
        value = env.get(table["password_env"])
        if value is None:
            raise HubUsageError(
                f"{where} password_env: environment variable {table['password_env']} is not set"
            )
        kwargs["password"] = value
    if env.get("SYNCHUB_IGNITE_USERNAME"):
        kwargs["username"] = env["SYNCHUB_IGNITE_USERNAME"]
    if env.get("SYNCHUB_IGNITE_PASSWORD"):
        kwargs["password"] = env["SYNCHUB_IGNITE_PASSWORD"]
    if "SYNCHUB_IGNITE_USE_SSL" in env:
        kwargs["use_ssl"] = env_bool("SYNCHUB_IGNITE_USE_SSL", env["SYNCHUB_IGNITE_USE_SSL"])
    ignite = IgniteSettings(**kwargs)
    if not ignite.addresses:
        raise HubUsageError(f"{where} addresses must not be empty")
    if ignite.password is not None and ignite.username is None:
        raise HubUsageError(f"{where}: password without username")
    for key in ("ssl_keyfile", "ssl_certfile", "ssl_ca_certfile"):
        path = getattr(ignite, key)
        if path is not None and not Path(path).is_file():
            raise HubUsageError(f"{where} {key}: file {path} not found")
    return ignite


def env_bool(name: str, raw: str) -> bool:
    if raw.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise HubUsageError(f"{name}: expected a boolean, got {raw!r}")
    return raw.lower() in ("1", "true", "yes", "on")
