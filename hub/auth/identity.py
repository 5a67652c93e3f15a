"""Who is on the other end of a connection, and the one method every authenticator has.

Every authenticator has one method, ``async authenticate(token, *, now_s) -> Identity``, which
raises :class:`~hub.core.errors.Unauthorized` with a short ``reason`` (see :data:`REASONS`) or
:class:`~hub.core.errors.TokenExpired` (close code 4511: fetch a new token and reconnect).
The hub passes the wall clock in (``now_s``) so expiry is testable and the same clock drives the
live-connection expiry timer. The schemes are in ``jwt.py`` and ``schemes.py``; choose one with
:func:`hub.auth.factory.authenticator_from_config` (the ``[auth]`` table of the hub config).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Protocol

from hub.core.errors import Unauthorized

#: ``rejected``: a hook said no; ``subject_changed``: an ``auth`` refresh named another user.
REASONS: Final = frozenset(
    "missing malformed bad_signature expired not_yet_valid wrong_audience wrong_issuer unknown_kid"
    " rejected subject_changed".split()
)

MAX_TOKEN_BYTES: Final = 8192
#: Claims that change with every token of the same user; they never affect authorisation.
VOLATILE_CLAIMS: Final = frozenset({"exp", "iat", "nbf", "jti", "auth_time"})


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


def require_token(token: str | None) -> str:
    if token is None or token == "":
        raise Unauthorized("missing")
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
        raise Unauthorized("malformed", "token is not a string or is too long")
    return token
