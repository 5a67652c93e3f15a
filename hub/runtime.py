"""The running hub: the store, one live feed per collection, the open connections, the
authenticator and access policy, limits, metrics and the background tombstone GC.

:class:`Hub` is created by the app's lifespan (``hub/app.py``) and shared by every connection
(``hub/transport/ws.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from hub.auth import Authenticator, Identity, authenticator_from_config
from hub.authz import AccessPolicy, policy_from_config
from hub.config import Config
from hub.core.errors import CloseCode, HubError, Unauthorized
from hub.core.ratelimit import BucketMap, ConnectionCounter
from hub.core.types import CollectionSpec
from hub.feed import Feed
from hub.metrics import HubMetrics
from hub.store.base import Store

if TYPE_CHECKING:
    from hub.transport.ws import Connection

log = logging.getLogger(__name__)


class DevAuth:
    """``dev_auth = true`` without an ``[auth]`` table: any token (or none) is accepted; the
    token is the subject (``dev`` without one). Development only."""

    async def authenticate(self, token: str | None, *, now_s: float) -> Identity:
        subject = token if isinstance(token, str) and token else "dev"
        return Identity(subject[:128], {"sub": subject[:128]}, None)


class TokenListAuth:
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


def make_authenticator(config: Config) -> Authenticator:
    """The ``[auth]`` table when present, else ``dev_auth`` (anything goes) or the static
    ``tokens`` allowlist (empty = nobody gets in)."""
    if config.auth is not None:
        return authenticator_from_config(config.auth)
    if config.hub.dev_auth:
        return DevAuth()
    return TokenListAuth(config.hub.tokens)


def make_policy(config: Config) -> AccessPolicy:
    """Per-collection access from ``[collections.X.access]``; collections without one get
    ``read = write = ["authenticated"]`` (dev and token-list identities are authenticated)."""
    tables = {c.name: {"access": config.access.get(c.name, {})} for c in config.collections}
    return policy_from_config(tables, roles_claim=config.hub.roles_claim)


async def _wait_finished(conns: list[Connection], timeout: float) -> None:
    """Wait (at most ``timeout`` s) until every connection in ``conns`` has finished."""
    if not conns:
        return
    waiters = [asyncio.ensure_future(c.finished.wait()) for c in conns]
    _, pending = await asyncio.wait(waiters, timeout=timeout)
    for w in pending:  # never leave the waiters of stuck connections behind
        w.cancel()


class Hub:
    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        authenticator: Authenticator | None = None,
        metrics: HubMetrics | None = None,
    ) -> None:
        cfg = config.hub
        self.config = config
        self.store = store
        self.id = uuid.uuid4().hex[:12]
        self.specs: dict[str, CollectionSpec] = {c.name: c for c in config.collections}
        self.writable = {c.name: c.writable for c in config.collections}
        self.feeds: dict[str, Feed] = {}
        self.connections: set[Connection] = set()
        self.authenticator = authenticator if authenticator is not None else make_authenticator(config)
        self.policy = make_policy(config)
        self.metrics = metrics if metrics is not None else HubMetrics()
        self.dev_mode = cfg.dev_auth and config.auth is None
        limit = cfg.max_conns_per_subject
        self.per_subject = ConnectionCounter(limit) if limit > 0 and not self.dev_mode else None
        self.connect_rate = (
            BucketMap(cfg.connect_rate, max(1, cfg.connect_burst)) if cfg.connect_rate > 0 else None
        )
        self.draining = False
        self.stats: dict[str, Any] = {"connections": 0, "protocol_errors": 0}
        self._gc_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.store.open()
        for spec in self.specs.values():
            await self.store.ensure_collection(spec)
        for name, spec in self.specs.items():
            feed = Feed(
                self.store,
                name,
                max_frame=self.config.hub.max_frame,
                policy=self.policy,
                metrics=self.metrics,
                recover=self._recover(spec),
            )
            self.feeds[name] = feed
            await feed.start()
        gc = getattr(self.store, "gc", None)
        if gc is not None and self.config.hub.gc_interval_ms > 0 and self.specs:
            self._gc_task = asyncio.create_task(self._gc_loop(), name="tombstone-gc")

    def _recover(self, spec: CollectionSpec) -> Any:
        async def recover() -> None:
            # After a lost feed: make sure the caches exist again (a restarted in-memory Ignite
            # cluster has none; a new epoch then makes every client resync).
            await self.store.ensure_collection(spec)

        return recover

    async def _gc_loop(self) -> None:
        interval = self.config.hub.gc_interval_ms / 1000
        retention = self.config.hub.tombstone_retention_ms
        while True:
            await asyncio.sleep(interval)
            for name in list(self.specs):
                try:
                    floor = await self.store.gc(name, retention)  # type: ignore[attr-defined]
                    log.info("tombstone gc", extra={"coll": name, "floor": floor})
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("tombstone gc of %s failed: %s", name, exc)

    async def drain(self, deadline_s: float) -> None:
        """Graceful shutdown, step 1: refuse new connections, let every connection finish the
        mutation batches it has already read, then close it with 4500 ``going_away``."""
        self.draining = True
        conns = list(self.connections)
        for conn in conns:
            conn.begin_drain()
        await _wait_finished(conns, max(deadline_s, 0.1))

    async def stop(self) -> None:
        self.draining = True
        if self._gc_task is not None:
            self._gc_task.cancel()
            with contextlib.suppress(BaseException):
                await self._gc_task
        conns = list(self.connections)
        for conn in conns:
            conn.request_close(CloseCode.GOING_AWAY, "hub shutting down")
        await _wait_finished(conns, 3)
        for feed in self.feeds.values():
            await feed.stop()
        with contextlib.suppress(HubError, OSError):
            await self.store.close()

    async def ready(self) -> bool:
        if self.draining:
            return False
        try:
            ok = await asyncio.wait_for(self.store.ping(), 5)
        except Exception:
            return False
        return bool(ok) and all(f.live for f in self.feeds.values())

    def now_s(self) -> float:
        return time.time()
