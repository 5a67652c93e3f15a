"""Building the authenticator a configuration asks for (``[auth]`` table, or the ``[hub]``
fallbacks ``dev_auth`` and ``tokens``), and importing application callables by name."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from hub.auth.identity import Authenticator
from hub.auth.jwt import JwtAuthenticator
from hub.auth.schemes import (
    AnonymousAuthenticator,
    DevAuthenticator,
    HookAuthenticator,
    OpenDevAuthenticator,
    TokenListAuthenticator,
)
from hub.core.errors import HubUsageError

log = logging.getLogger(__name__)


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


def make_authenticator(
    auth: Mapping[str, Any] | None, *, dev_auth: bool, tokens: tuple[str, ...]
) -> Authenticator:
    """The ``[auth]`` table when present, else ``[hub] dev_auth`` (anything goes) or the static
    ``[hub] tokens`` allowlist (empty = nobody gets in)."""
    if auth is not None:
        return authenticator_from_config(auth)
    if dev_auth:
        return OpenDevAuthenticator()
    return TokenListAuthenticator(tokens)
