"""Authentication of one connection: the ``hello`` token, in-band ``auth`` refreshes and the
expiry of the token in force (docs/security.md §2).

:class:`AuthFlow` holds the connection's current :class:`~hub.auth.identity.Identity` and decides;
it never touches a socket, a queue or the session. The session driver (``hub/server/driver.py``)
carries out what it returns: :class:`Refused` closes the connection, a :class:`Refresh` says what to send,
which subscriptions end and which restart. Tests drive it with a fake authenticator and clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hub.auth.identity import Authenticator, Identity
from hub.authz import AccessPolicy
from hub.core import messages as m
from hub.core.errors import CloseCode, ErrorCode, HubError, Unauthorized
from hub.logs import bind
from hub.metrics import HubMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Refused:
    """The ``hello`` token was refused: close with ``code`` and ``reason``."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Refresh:
    """What an ``auth`` refresh decided.

    Args:
        reply: The message to send last (``authed``, or ``error {4010}`` when the old token
            stays in force), or None when the connection closes.
        close: ``(code, reason)`` when the connection must close instead.
        ended: Subscriptions the new token may no longer read (end them with ``unsub``).
        resync: Subscriptions whose visible rows changed (restart them with a snapshot).
    """

    reply: dict[str, Any] | None
    close: tuple[int, str] | None = None
    ended: tuple[str, ...] = ()
    resync: tuple[str, ...] = ()


class AuthFlow:
    """Authenticate, refresh and re-check the identity of one connection.

    Args:
        authenticator: The hub's authenticator.
        policy: The hub's access policy (re-checked on refresh).
        metrics: Counts failures and refused connections.
        now_s: The wall clock (seconds) that token expiry is judged by.
        claim: Counts this connection against a per-subject key; False when the key is full.
        address: The peer's address (the key of anonymous clients).
    """

    __slots__ = ("address", "authenticator", "claim", "identity", "metrics", "now_s", "policy")

    def __init__(
        self,
        authenticator: Authenticator,
        policy: AccessPolicy,
        metrics: HubMetrics,
        *,
        now_s: Callable[[], float],
        claim: Callable[[str], bool],
        address: str,
    ) -> None:
        self.authenticator = authenticator
        self.policy = policy
        self.metrics = metrics
        self.now_s = now_s
        self.claim = claim
        self.address = address
        self.identity: Identity | None = None

    def _failed(self, reason: str) -> None:
        self.metrics.auth_failures.labels(reason).inc()

    async def authenticate(self, token: str | None) -> Identity | Refused:
        """Check the ``hello`` token and claim a per-subject connection slot."""
        try:
            identity = await self.authenticator.authenticate(token, now_s=self.now_s())
        except Unauthorized as exc:
            self._failed(exc.reason)
            log.warning("authentication failed", extra={"reason": exc.reason, "detail": exc.detail})
            return Refused(exc.close_code, exc.reason)
        except HubError as exc:
            self._failed("error")
            log.warning("authenticator error", extra={"error": exc.message})
            return Refused(exc.close_code, "authentication unavailable")
        except Exception:
            self._failed("error")
            log.exception("authenticator failed")
            return Refused(CloseCode.INTERNAL_ERROR, "internal error")
        key = f"addr:{self.address}" if identity.anonymous else f"sub:{identity.subject}"
        if not self.claim(key):
            self.metrics.rate_limited.labels("connections").inc()
            log.warning("too many connections", extra={"subject": identity.subject})
            return Refused(CloseCode.TOO_MANY_CONNECTIONS, "too many connections")
        self.identity = identity
        bind(user=identity.subject)
        log.info("authenticated", extra={"subject": identity.subject, "anonymous": identity.anonymous})
        return identity

    async def refresh(self, token: str, subscribed: Sequence[str]) -> Refresh:
        """An in-band ``auth {token}`` on a ready connection subscribed to ``subscribed``."""
        old = self.identity
        assert old is not None, "refresh before authentication"
        try:
            new = await self.authenticator.authenticate(token, now_s=self.now_s())
        except Unauthorized as exc:
            self._failed(exc.reason)
            log.warning("token refresh refused", extra={"reason": exc.reason, "detail": exc.detail})
            return Refresh(m.error(ErrorCode.UNAUTHORIZED, exc.reason))
        except Exception as exc:
            self._failed("error")
            log.warning("token refresh failed", extra={"error": repr(exc)[:200]})
            return Refresh(m.error(ErrorCode.UNAUTHORIZED, "unavailable"))
        if new.subject != old.subject or new.anonymous != old.anonymous:
            self._failed("subject_changed")
            log.warning("token refresh names another subject; closing")
            return Refresh(None, (CloseCode.UNAUTHORIZED, "subject_changed"))
        self.identity = new
        result = self.policy.recheck(old, new, list(subscribed))
        exp = None if new.expires_at is None else int(new.expires_at)
        log.info("token refreshed", extra={"exp": exp})
        return Refresh(m.authed(exp), None, tuple(result.ended), tuple(result.resync))

    def seconds_left(self) -> float | None:
        """Seconds until the token in force expires (None: it does not, or none yet)."""
        identity = self.identity
        if identity is None or identity.expires_at is None:
            return None
        return float(identity.expires_at) - self.now_s()

    def expired(self) -> bool:
        """Whether the token in force has expired (the connection then closes with 4511)."""
        identity = self.identity
        return (
            identity is not None and identity.expires_at is not None and self.now_s() >= identity.expires_at
        )
