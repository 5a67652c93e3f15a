"""Helpers for the security / operations integration tests: row-level hooks referenced from hub
configs (``tests.support.acl:owner_only``), token minting, an in-process hub on a real Ignite."""

from __future__ import annotations

import base64
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hub.auth.identity import Identity
from hub.config import Config, HubSettings
from hub.core.types import CollectionSpec
from hub.igniteconfig import IgniteSettings
from hub.store.ignite import IgniteStore
from tests.support.server import Running, running_hub
from tests.support.wsclient import HubClient

SECRET = "s" * 40  # HS256 test secret (>= 32 bytes)


# ------------------------------------------------------------------ row-level hooks


def owner_only(identity: Identity, doc_id: str, doc: Mapping[str, Any]) -> bool:
    """Row filter: a user sees the documents whose ``owner`` is their subject."""
    return doc.get("owner") == identity.subject


def team_only(identity: Identity, doc_id: str, doc: Mapping[str, Any]) -> bool:
    """Row filter: a user sees the documents of the team named in their token's ``team`` claim."""
    return doc.get("team") == identity.claims.get("team")


def anyone_writes(
    identity: Identity, doc_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> bool:
    """Write check of a "drop box": anyone may write anything (reads stay owner-only)."""
    return True


# ------------------------------------------------------------------ tokens


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Keys:
    """An RSA and an EC key pair; ``jwks`` holds their public halves (kids ``rsa1``/``ec1``)."""

    rsa: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    ec: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def jwks(self) -> dict[str, Any]:
        rn = self.rsa.public_key().public_numbers()
        en = self.ec.public_key().public_numbers()
        return {
            "keys": [
                {"kty": "RSA", "kid": "rsa1", "use": "sig", "alg": "RS256", "n": _b64(rn.n), "e": _b64(rn.e)},
                {
                    "kty": "EC",
                    "kid": "ec1",
                    "use": "sig",
                    "alg": "ES256",
                    "crv": "P-256",
                    "x": base64.urlsafe_b64encode(en.x.to_bytes(32, "big")).rstrip(b"=").decode(),
                    "y": base64.urlsafe_b64encode(en.y.to_bytes(32, "big")).rstrip(b"=").decode(),
                },
            ]
        }

    def write_jwks(self, path: Path) -> str:
        path.write_text(json.dumps(self.jwks()))
        return str(path)

    def pem(self, which: str) -> bytes:
        key = self.rsa if which == "rsa" else self.ec
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def token(
    sub: str, *, ttl: float = 300.0, alg: str = "HS256", keys: Keys | None = None, **claims: Any
) -> str:
    """A signed JWT for ``sub`` expiring in ``ttl`` seconds (negative: already expired)."""
    now = time.time()
    body = {"sub": sub, "iat": int(now), "exp": int(now + ttl), "aud": "synchub", **claims}
    if alg == "HS256":
        return jwt.encode(body, SECRET, algorithm="HS256")
    assert keys is not None
    if alg == "RS256":
        return jwt.encode(body, keys.rsa, algorithm="RS256", headers={"kid": "rsa1"})
    return jwt.encode(body, keys.ec, algorithm="ES256", headers={"kid": "ec1"})


def jwt_auth(**extra: Any) -> dict[str, Any]:
    return {"mode": "jwt", "algorithms": ["HS256"], "secret": SECRET, "audience": "synchub", **extra}


# ------------------------------------------------------------------ an in-process hub on Ignite


def config(
    addresses: list[tuple[str, int]],
    collections: Mapping[str, Mapping[str, Any]],
    *,
    auth: Mapping[str, Any] | None = None,
    **hub: Any,
) -> Config:
    """A hub config: collections ``{name: {"cache": ..., "access": {...}, ...}}``."""
    specs = []
    access: dict[str, Mapping[str, Any]] = {}
    for name, table in collections.items():
        table = dict(table)
        if "access" in table:
            access[name] = table.pop("access")
        specs.append(CollectionSpec(name, **table))
    settings: dict[str, Any] = {"ping_ms": 5000}
    settings.update(hub)
    return Config(
        hub=HubSettings(**settings),
        ignite=IgniteSettings(tuple(addresses)),
        collections=tuple(specs),
        auth=auth if auth is not None else jwt_auth(),
        access=access,
    )


@contextlib.asynccontextmanager
async def hub_on_ignite(cfg: Config) -> AsyncIterator[Running]:
    store = IgniteStore(list(cfg.ignite.addresses), dedup_ttl_ms=cfg.hub.dedup_ttl_ms)
    async with running_hub(cfg, store) as run:
        yield run


def fresh(prefix: str = "sec") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@contextlib.asynccontextmanager
async def connected(url: str, tok: str | None, client_id: str | None = None) -> AsyncIterator[HubClient]:
    c = HubClient(url, client_id=client_id, token=tok)
    try:
        await c.connect()
        yield c
    finally:
        await c.close()


async def metrics(http: str) -> dict[str, float]:
    """``/metrics`` as {"name{labels}": value}."""
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"{http}/metrics")).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def session_hook(tok: str) -> dict[str, Any] | None:
    """An authentication hook (``[auth] mode = "hook"``): ``session-<user>`` cookies, except nobody."""
    if tok.startswith("session-") and tok != "session-nobody":
        return {"sub": tok.removeprefix("session-"), "exp": time.time() + 300}
    return None
