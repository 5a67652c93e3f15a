"""JSON Web Tokens (JWS compact form), verified with PyJWT against configured keys.

Keys come from an HMAC secret, PEM public keys or a local JWKS file (re-read on an unknown
``kid``); algorithms are an allowlist and every key is tied to the algorithms it may verify.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from hub.auth.identity import Identity, require_token
from hub.core.errors import HubUsageError, TokenExpired, Unauthorized

log = logging.getLogger(__name__)

HMAC_ALGORITHMS: Final = frozenset({"HS256", "HS384", "HS512"})
RSA_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS: Final = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
EDDSA_ALGORITHMS: Final = frozenset({"EdDSA"})
SUPPORTED_ALGORITHMS: Final = HMAC_ALGORITHMS | RSA_ALGORITHMS | set(EC_ALGORITHMS) | EDDSA_ALGORITHMS
#: RFC 7518 §3.2: an HMAC key at least as long as the hash output.
MIN_HMAC_SECRET_BYTES: Final = {"HS256": 32, "HS384": 48, "HS512": 64}

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey


@dataclass(frozen=True, slots=True)
class _Key:
    key: PublicKey | bytes
    kid: str | None = None
    alg: str | None = None  # a JWK's own "alg": the only algorithm it may be used with


def _compatible(alg: str, key: PublicKey | bytes) -> bool:
    """Whether ``alg`` may be verified with ``key`` (defeats algorithm-confusion attacks)."""
    if alg in HMAC_ALGORITHMS:
        return isinstance(key, bytes)
    if alg in RSA_ALGORITHMS:
        return isinstance(key, rsa.RSAPublicKey)
    if alg in EC_ALGORITHMS:
        return isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == EC_ALGORITHMS[alg]
    if alg in EDDSA_ALGORITHMS:
        return isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
    return False


def load_pem(pem: str | bytes) -> PublicKey:
    """A public key from PEM text (a private key or certificate is refused)."""
    raw = pem.encode() if isinstance(pem, str) else pem
    try:
        key = load_pem_public_key(raw)
    except ValueError as exc:
        raise HubUsageError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, PublicKey):
        raise HubUsageError(f"unsupported public key type {type(key).__name__}")
    return key


def load_jwks(path: str | os.PathLike[str]) -> list[_Key]:
    """Signature keys from a local JWKS file (``{"keys": [...]}``); ``use: enc`` keys are skipped."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise HubUsageError(f"cannot read JWKS file {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise HubUsageError(f"JWKS file {path} has no 'keys' list")
    keys: list[_Key] = []
    for jwk in data["keys"]:
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
            continue
        if jwk.get("kty") == "oct":
            raise HubUsageError(f"JWKS file {path} holds a symmetric (oct) key; use `secret` instead")
        try:
            parsed = jwt.PyJWK(jwk)
        except (jwt.PyJWKError, jwt.InvalidKeyError) as exc:
            raise HubUsageError(f"bad key {jwk.get('kid')!r} in JWKS file {path}: {exc}") from exc
        key = parsed.key
        if not isinstance(key, PublicKey):
            raise HubUsageError(f"key {jwk.get('kid')!r} in JWKS file {path} is not a public key")
        alg = jwk.get("alg")
        keys.append(_Key(key, jwk.get("kid"), alg if isinstance(alg, str) else None))
    if not keys:
        raise HubUsageError(f"JWKS file {path} holds no signature keys")
    return keys


class JwtAuthenticator:
    """Verifies JWTs (JWS compact form) with PyJWT.

    Args:
        algorithms: The allowlist. ``none`` and unknown names are refused at construction; a
            token whose header names another algorithm is ``malformed``.
        secret: HMAC secret (at least 32 bytes) for ``HS*``.
        public_keys: PEM public keys, as a list (no kid) or a mapping kid -> PEM.
        jwks_file: A local JWKS file; re-read when a token names an unknown ``kid`` and the
            file changed on disk (key rotation without restart). Never fetched over the network.
        audience: Required ``aud`` (a token for another audience is ``wrong_audience``). When
            None, a token that carries an ``aud`` is refused too.
        issuer: Required ``iss``.
        leeway_s: Clock skew allowed on ``exp`` and ``nbf``.
        require_exp: Refuse tokens without ``exp`` (default; a token without one would never
            expire on a live connection).
        subject_claim: The claim holding the user id.
    """

    def __init__(
        self,
        *,
        algorithms: Sequence[str],
        secret: str | bytes | None = None,
        public_keys: Sequence[str | bytes] | Mapping[str, str | bytes] = (),
        jwks_file: str | os.PathLike[str] | None = None,
        audience: str | Sequence[str] | None = None,
        issuer: str | None = None,
        leeway_s: float = 0.0,
        require_exp: bool = True,
        subject_claim: str = "sub",
    ) -> None:
        if isinstance(algorithms, str) or not algorithms:
            raise HubUsageError("auth.algorithms must be a non-empty list, e.g. ['RS256']")
        for alg in algorithms:
            if alg not in SUPPORTED_ALGORITHMS:
                raise HubUsageError(
                    f"auth.algorithms: {alg!r} is not allowed (choose from {sorted(SUPPORTED_ALGORITHMS)})"
                )
        if leeway_s < 0:
            raise HubUsageError("auth.leeway_s must be >= 0")
        self.algorithms = tuple(algorithms)
        self.audience = audience if audience is None or isinstance(audience, str) else list(audience)
        self.issuer = issuer
        self.leeway_s = float(leeway_s)
        self.require_exp = require_exp
        self.subject_claim = subject_claim
        self._jwks_file = Path(jwks_file) if jwks_file is not None else None
        self._jwks_mtime: float | None = None

        keys: list[_Key] = []
        if secret is not None:
            raw = secret.encode() if isinstance(secret, str) else secret
            needed = max((MIN_HMAC_SECRET_BYTES.get(a, 0) for a in self.algorithms), default=0)
            if len(raw) < max(needed, 32):
                raise HubUsageError(
                    f"auth.secret must be at least {max(needed, 32)} bytes for {self.algorithms}"
                )
            keys.append(_Key(raw))
        if isinstance(public_keys, Mapping):
            keys += [_Key(load_pem(pem), kid) for kid, pem in public_keys.items()]
        else:
            keys += [_Key(load_pem(pem)) for pem in public_keys]
        self._static = keys
        self._keys = list(keys)
        if self._jwks_file is not None:
            self._load_jwks()
        if not self._keys:
            raise HubUsageError("auth: JWT mode needs `secret`, `public_keys` or `jwks_file`")
        for alg in self.algorithms:
            if not any(_compatible(alg, k.key) for k in self._keys):
                raise HubUsageError(f"auth.algorithms: no configured key can verify {alg}")

    def _load_jwks(self) -> None:
        assert self._jwks_file is not None
        mtime = self._jwks_file.stat().st_mtime if self._jwks_file.exists() else None
        self._keys = self._static + load_jwks(self._jwks_file)
        self._jwks_mtime = mtime

    def _maybe_reload(self) -> bool:
        if self._jwks_file is None:
            return False
        try:
            mtime = self._jwks_file.stat().st_mtime
        except OSError:
            return False
        if mtime == self._jwks_mtime:
            return False
        try:
            self._load_jwks()
        except HubUsageError as exc:
            log.error("JWKS reload failed, keeping the previous keys", extra={"error": str(exc)})
            self._jwks_mtime = mtime
            return False
        return True

    def _candidates(self, kid: object, alg: str) -> list[_Key]:
        if isinstance(kid, str):
            chosen = [k for k in self._keys if k.kid == kid]
            if not chosen:
                chosen = [k for k in self._keys if k.kid is None]
        elif kid is None:
            chosen = [k for k in self._keys if k.kid is None]
            if not chosen and len(self._keys) == 1:
                chosen = list(self._keys)
        else:
            raise Unauthorized("malformed", "kid is not a string")
        return [k for k in chosen if _compatible(alg, k.key) and (k.alg is None or k.alg == alg)]

    async def authenticate(self, token: str | None, *, now_s: float) -> Identity:
        return self.verify(token, now_s=now_s)

    def verify(self, token: str | None, *, now_s: float) -> Identity:
        """The synchronous core of :meth:`authenticate` (no I/O except a JWKS re-read)."""
        raw = require_token(token)
        try:
            header = jwt.get_unverified_header(raw)
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("malformed", str(exc)) from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            # Covers "none" and every algorithm the operator did not configure.
            raise Unauthorized("malformed", f"algorithm {alg!r} not allowed")
        kid = header.get("kid")
        keys = self._candidates(kid, alg)
        if not keys and self._maybe_reload():
            keys = self._candidates(kid, alg)
        if not keys:
            raise Unauthorized("unknown_kid", f"no key for kid={kid!r} alg={alg}")
        claims: dict[str, Any] | None = None
        for k in keys:
            try:
                claims = jwt.decode(
                    raw,
                    key=k.key,
                    algorithms=[alg],
                    audience=self.audience,
                    issuer=self.issuer,
                    options={
                        "verify_signature": True,
                        "verify_exp": False,  # checked below against now_s
                        "verify_nbf": False,
                        "verify_iat": False,
                        "verify_aud": True,
                        "verify_iss": self.issuer is not None,
                        "require": [],
                    },
                )
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.MissingRequiredClaimError as exc:
                reason = "wrong_issuer" if exc.claim == "iss" else "wrong_audience"
                raise Unauthorized(reason, str(exc)) from None
            except jwt.InvalidAudienceError as exc:
                raise Unauthorized("wrong_audience", str(exc)) from None
            except jwt.InvalidIssuerError as exc:
                raise Unauthorized("wrong_issuer", str(exc)) from None
            except jwt.InvalidTokenError as exc:
                raise Unauthorized("malformed", f"{type(exc).__name__}: {exc}") from None
        if claims is None:
            raise Unauthorized("bad_signature", f"signature does not verify (alg={alg}, kid={kid!r})")
        return self._identity(claims, now_s)

    def _identity(self, claims: dict[str, Any], now_s: float) -> Identity:
        exp = claims.get("exp")
        nbf = claims.get("nbf")
        for name, value in (("exp", exp), ("nbf", nbf)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise Unauthorized("malformed", f"{name} is not a number")
        if exp is None and self.require_exp:
            raise Unauthorized("malformed", "token has no exp")
        if exp is not None and now_s >= exp + self.leeway_s:
            raise TokenExpired(f"expired at {exp}")
        if nbf is not None and now_s < nbf - self.leeway_s:
            raise Unauthorized("not_yet_valid", f"valid from {nbf}")
        subject = claims.get(self.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise Unauthorized("malformed", f"claim {self.subject_claim!r} missing or not a string")
        return Identity(subject, claims, None if exp is None else float(exp))
