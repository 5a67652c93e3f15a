"""The authentication schemes other than JWT: anonymous, development, the static token list and
an application hook."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Final

from hub.auth.identity import Authenticator, Identity, require_token
from hub.core.errors import HubError, TokenExpired, Unauthorized


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
        raw = require_token(token)
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
            token = require_token(token)
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


class OpenDevAuthenticator:
    """``dev_auth = true`` without an ``[auth]`` table: any token (or none) is accepted; the
    token is the subject (``dev`` without one). Development only."""

    async def authenticate(self, token: str | None, *, now_s: float) -> Identity:
        subject = token if isinstance(token, str) and token else "dev"
        return Identity(subject[:128], {"sub": subject[:128]}, None)


class TokenListAuthenticator:
    """The static ``[hub] tokens`` allowlist (no ``[auth]`` table): each token is its own user
    (subject ``token-<n>``, n its position in the list)."""

    def __init__(self, tokens: tuple[str, ...]) -> None:
        self.tokens = tokens

    async def authenticate(self, token: str | None, *, now_s: float) -> Identity:
        if not token:
            raise Unauthorized("missing")
        for i, known in enumerate(self.tokens):
            if hmac.compare_digest(
                hashlib.sha256(known.encode()).digest(), hashlib.sha256(token.encode()).digest()
            ):
                return Identity(f"token-{i}", {"sub": f"token-{i}"}, None)
        raise Unauthorized("rejected")
