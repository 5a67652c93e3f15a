"""Authentication: turning the credential of a ``hello`` (or an ``auth`` refresh) into an
:class:`Identity`.

Every authenticator has one method, ``async authenticate(token, *, now_s) -> Identity``, which
raises :class:`~hub.core.errors.Unauthorized` with a short ``reason`` (see :data:`REASONS`) or
:class:`~hub.core.errors.TokenExpired` (close code 4511: fetch a new token and reconnect).
The hub passes the wall clock in (``now_s``) so expiry is testable and the same clock drives the
live-connection expiry timer.

Choose one with :func:`authenticator_from_config` (the ``[auth]`` table of the hub config).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from hub.core.errors import HubError, HubUsageError, TokenExpired, Unauthorized

log = logging.getLogger(__name__)

#: ``rejected``: a hook said no; ``subject_changed``: an ``auth`` refresh named another user.
REASONS: Final = frozenset(
    "missing malformed bad_signature expired not_yet_valid wrong_audience wrong_issuer unknown_kid"
    " rejected subject_changed".split()
)

MAX_TOKEN_BYTES: Final = 8192
#: Claims that change with every token of the same user; they never affect authorisation.
VOLATILE_CLAIMS: Final = frozenset({"exp", "iat", "nbf", "jti", "auth_time"})

HMAC_ALGORITHMS: Final = frozenset({"HS256", "HS384", "HS512"})
RSA_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS: Final = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
EDDSA_ALGORITHMS: Final = frozenset({"EdDSA"})
SUPPORTED_ALGORITHMS: Final = HMAC_ALGORITHMS | RSA_ALGORITHMS | set(EC_ALGORITHMS) | EDDSA_ALGORITHMS
#: RFC 7518 §3.2: an HMAC key at least as long as the hash output.
MIN_HMAC_SECRET_BYTES: Final = {"HS256": 32, "HS384": 48, "HS512": 64}

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is on the other end of a connection.

    Args:
        subject: The user id (the JWT ``sub``); the key of per-user limits and row filters.
        claims: Every claim of the token (read-only).
        expires_at: Unix time at which the credential expires, or None.
        anonymous: True only for :class:`AnonymousAuthenticator` identities.

    ``key`` is a canonical fingerprint of subject and claims without :data:`VOLATILE_CLAIMS`: two
    identities with the same key get the same authorisation decisions (used to group fan-out and
    to tell whether a refreshed token changed anything).
    """

    subject: str
    claims: Mapping[str, Any] = field(default_factory=dict)
    expires_at: float | None = None
    anonymous: bool = False
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "claims", MappingProxyType(dict(self.claims)))
        stable = {k: v for k, v in self.claims.items() if k not in VOLATILE_CLAIMS}
        key = json.dumps([self.subject, self.anonymous, stable], sort_keys=True, default=repr)
        object.__setattr__(self, "key", key)


class Authenticator(Protocol):
    async def authenticate(self, token: str | None, *, now_s: float) -> Identity:
        """Check a credential.

        Raises:
            Unauthorized: with ``reason`` in :data:`REASONS`.
            TokenExpired: the credential expired.
            HubError: an internal failure (hook crashed or timed out): close 4510, retryable.
        """
        ...


def _require_token(token: str | None) -> str:
    if token is None or token == "":
        raise Unauthorized("missing")
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
        raise Unauthorized("malformed", "token is not a string or is too long")
    return token


# --------------------------------------------------------------------------------------------
# JWT


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
        raw = _require_token(token)
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


# --------------------------------------------------------------------------------------------
# Other schemes


class AnonymousAuthenticator:
    """Lets clients in without a token (only when configured explicitly).

    A ``hello`` without a token gets an anonymous identity; with ``inner`` set, a token is still
    verified by ``inner`` (optional login); without ``inner`` any token is ignored.
    """

    SUBJECT: Final = "anonymous"

    def __init__(self, inner: Authenticator | None = None) -> None:
        self.inner = inner

    async def authenticate(self, token: str | None, *, now_s: float) -> Identity:
        if token and self.inner is not None:
            return await self.inner.authenticate(token, now_s=now_s)
        return Identity(self.SUBJECT, {}, None, anonymous=True)


class DevAuthenticator:
    """Development only: any non-empty token is accepted and is the subject."""

    async def authenticate(self, token: str | None, *, now_s: float) -> Identity:
        raw = _require_token(token)
        return Identity(raw, {"sub": raw}, None)


HookResult = Identity | Mapping[str, Any] | None
Hook = Callable[[str | None], Any]


class HookAuthenticator:
    """Wraps an application callable ``hook(token) -> Identity | claims | None`` (sync or async).

    Use it for schemes other than JWT (e.g. a session cookie that the transport passes as the
    token, checked against the application's backend). The hook returns an :class:`Identity`, a
    claims mapping (with the subject under ``subject_claim`` and optionally ``exp``), or None
    to refuse (reason ``rejected``); it may also raise :class:`Unauthorized` itself. Sync hooks
    run in a worker thread so they may block; any other exception, and a timeout, become a
    retryable :class:`HubError` (close 4510), not a 4010.
    """

    def __init__(
        self, hook: Hook, *, timeout_s: float = 5.0, subject_claim: str = "sub", pass_missing: bool = False
    ) -> None:
        self.hook = hook
        self.timeout_s = timeout_s
        self.subject_claim = subject_claim
        self.pass_missing = pass_missing
        self._is_async = inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(
            getattr(hook, "__call__", None)  # noqa: B004
        )

    async def authenticate(self, token: str | None, *, now_s: float) -> Identity:
        if not self.pass_missing:
            token = _require_token(token)
        try:
            async with asyncio.timeout(self.timeout_s):
                if self._is_async:
                    result = await self.hook(token)
                else:
                    result = await asyncio.to_thread(self.hook, token)
        except Unauthorized:
            raise
        except TimeoutError:
            raise HubError("authentication hook timed out") from None
        except Exception as exc:
            raise HubError(f"authentication hook failed: {type(exc).__name__}") from exc
        return self._identity(result, now_s)

    def _identity(self, result: object, now_s: float) -> Identity:
        if result is None or result is False:
            raise Unauthorized("rejected")
        if isinstance(result, Identity):
            identity = result
        elif isinstance(result, Mapping):
            subject = result.get(self.subject_claim)
            if not isinstance(subject, str) or not subject:
                raise HubError(f"authentication hook returned claims without a {self.subject_claim!r}")
            exp = result.get("exp")
            if exp is not None and (isinstance(exp, bool) or not isinstance(exp, int | float)):
                raise HubError("authentication hook returned a non-numeric exp")
            identity = Identity(subject, result, None if exp is None else float(exp))
        else:
            raise HubError(f"authentication hook returned {type(result).__name__}")
        if identity.expires_at is not None and now_s >= identity.expires_at:
            raise TokenExpired("hook identity expired")
        return identity


# --------------------------------------------------------------------------------------------
# Configuration


def load_callable(spec: str, what: str = "hook") -> Callable[..., Any]:
    """Import ``package.module:attr.path`` and return the callable it names.

    Raises:
        HubUsageError: the spec is malformed, the import fails or the object is not callable.
    """
    module_name, sep, attr_path = spec.partition(":")
    if not sep or not module_name or not attr_path:
        raise HubUsageError(f"{what} {spec!r} must look like 'package.module:function'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise HubUsageError(f"{what} {spec!r}: cannot import {module_name}: {exc}") from exc
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise HubUsageError(f"{what} {spec!r}: {module_name} has no attribute {attr_path}") from None
    if not callable(obj):
        raise HubUsageError(f"{what} {spec!r} is not callable")
    return obj  # type: ignore[no-any-return]


_JWT_KEYS = frozenset(
    "mode algorithms secret secret_env public_keys public_key_files jwks_file audience issuer"
    " leeway_s require_exp subject_claim allow_anonymous".split()
)
_MODE_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "jwt": _JWT_KEYS,
    "anonymous": frozenset({"mode"}),
    "dev": frozenset({"mode"}),
    "hook": frozenset({"mode", "hook", "timeout_s", "subject_claim", "allow_anonymous"}),
}


def _get(section: Mapping[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    value = section.get(name, default)
    if value is not None and not isinstance(value, kind):
        raise HubUsageError(f"auth.{name} has the wrong type ({type(value).__name__})")
    return value


def authenticator_from_config(section: Mapping[str, Any]) -> Authenticator:
    """Build the authenticator described by the ``[auth]`` config table.

    ``mode`` is required: ``"jwt"`` (keys: ``algorithms``, ``secret`` or ``secret_env``,
    ``public_keys`` (list or kid->PEM table), ``public_key_files``, ``jwks_file``, ``audience``,
    ``issuer``, ``leeway_s``, ``require_exp``, ``subject_claim``), ``"hook"`` (``hook =
    "module:function"``, ``timeout_s``), ``"anonymous"`` or ``"dev"``. ``allow_anonymous = true``
    on ``jwt``/``hook`` lets token-less clients in as anonymous.

    Raises:
        HubUsageError: unknown mode or key, wrong types, unreadable keys.
    """
    mode = section.get("mode")
    if not isinstance(mode, str) or mode not in _MODE_KEYS:
        raise HubUsageError(f"auth.mode must be one of {sorted(_MODE_KEYS)}, got {mode!r}")
    unknown = set(section) - _MODE_KEYS[mode]
    if unknown:
        raise HubUsageError(f"auth: unknown key(s) for mode {mode!r}: {sorted(unknown)}")
    inner: Authenticator
    if mode == "anonymous":
        log.warning("authentication disabled: every client is anonymous")
        return AnonymousAuthenticator()
    if mode == "dev":
        log.warning("DEV authentication: any token is accepted as the user id; never use in production")
        return DevAuthenticator()
    if mode == "hook":
        spec = _get(section, "hook", str)
        if not spec:
            raise HubUsageError("auth.hook is required for mode 'hook'")
        inner = HookAuthenticator(
            load_callable(spec, "auth.hook"),
            timeout_s=float(_get(section, "timeout_s", (int, float), 5.0)),
            subject_claim=_get(section, "subject_claim", str, "sub"),
        )
    else:
        inner = _jwt_from_config(section)
    if _get(section, "allow_anonymous", bool, False):
        return AnonymousAuthenticator(inner)
    return inner


def _jwt_from_config(section: Mapping[str, Any]) -> JwtAuthenticator:
    algorithms = _get(section, "algorithms", list)
    if not algorithms or not all(isinstance(a, str) for a in algorithms):
        raise HubUsageError("auth.algorithms must be a non-empty list of strings, e.g. ['RS256']")
    secret = _get(section, "secret", str)
    secret_env = _get(section, "secret_env", str)
    if secret is not None and secret_env is not None:
        raise HubUsageError("auth: set `secret` or `secret_env`, not both")
    if secret_env is not None:
        secret = os.environ.get(secret_env)
        if not secret:
            raise HubUsageError(f"auth.secret_env: environment variable {secret_env} is not set")
    inline = _get(section, "public_keys", (list, dict), [])
    files = _get(section, "public_key_files", (list, dict), [])
    if inline and files and type(inline) is not type(files):
        raise HubUsageError("auth: public_keys and public_key_files must both be lists or both kid tables")
    by_kid: dict[str, str] = {}
    kidless: list[str] = []
    for value, is_file in ((inline, False), (files, True)):
        pairs = value.items() if isinstance(value, dict) else ((None, v) for v in value)
        for kid, item in pairs:
            if not isinstance(item, str):
                raise HubUsageError("auth.public_keys / public_key_files entries must be strings")
            try:
                pem = Path(item).read_text() if is_file else item
            except OSError as exc:
                raise HubUsageError(f"auth.public_key_files: {exc}") from exc
            if kid is None:
                kidless.append(pem)
            else:
                by_kid[str(kid)] = pem
    merged: list[str] | dict[str, str] = by_kid if by_kid else kidless
    audience = _get(section, "audience", (str, list))
    return JwtAuthenticator(
        algorithms=algorithms,
        secret=secret,
        public_keys=merged,
        jwks_file=_get(section, "jwks_file", str),
        audience=audience,
        issuer=_get(section, "issuer", str),
        leeway_s=float(_get(section, "leeway_s", (int, float), 0.0)),
        require_exp=_get(section, "require_exp", bool, True),
        subject_claim=_get(section, "subject_claim", str, "sub"),
    )
