"""The running hub: the store, one live feed per collection, the registry of open connections,
the authenticator and access policy chosen by the configuration, the connect-rate limit, metrics
and the background tombstone GC.

:class:`Hub` is created by the app's lifespan (``hub/app.py``) and shared by every connection
(``hub/server/connection.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

from hub.auth.factory import make_authenticator
from hub.auth.identity import Authenticator
from hub.authz import AccessPolicy, origin_allowed, policy_from_config
from hub.config import Config
from hub.core.errors import CloseCode, HubError
from hub.core.ratelimit import BucketMap, SharedBudget
from hub.core.room_messages import FEATURE as ROOMS_FEATURE
from hub.core.session import SessionConfig
from hub.core.subsets import FEATURE as QUERY_FEATURE
from hub.core.types import CollectionSpec
from hub.looplag import loop_lag
from hub.metrics import HubMetrics
from hub.queryconfig import query_specs
from hub.server.connections import Connections
from hub.server.feed import Feed
from hub.server.presence import Presence
from hub.server.syncreads import SYNC_READ_SLOTS, SyncSlots
from hub.store.backplane import Backplane, LocalBackplane
from hub.store.base import Store

log = logging.getLogger(__name__)


def make_policy(config: Config) -> AccessPolicy:
    """Per-collection access from ``[collections.X.access]``; collections without one get
    ``read = write = ["authenticated"]`` (dev and token-list identities are authenticated)."""
    tables = {c.name: {"access": config.access.get(c.name, {})} for c in config.collections}
    return policy_from_config(tables, roles_claim=config.hub.roles_claim)


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
        self.queries = query_specs({c.name: c.fields for c in config.collections}, config.subscriptions)
        self.feeds: dict[str, Feed] = {}
        if authenticator is None:
            authenticator = make_authenticator(config.auth, dev_auth=cfg.dev_auth, tokens=cfg.tokens)
        self.authenticator = authenticator
        self.policy = make_policy(config)
        self.metrics = metrics if metrics is not None else HubMetrics()
        self.dev_mode = cfg.dev_auth and config.auth is None
        self.connections = Connections(0 if self.dev_mode else cfg.max_conns_per_subject)
        self.connect_rate = (
            BucketMap(cfg.connect_rate, max(1, cfg.connect_burst)) if cfg.connect_rate > 0 else None
        )
        self.overload_lag_s = cfg.overload_lag_ms / 1000
        self._overload_logged = 0.0  # (one warning per second while refusing)
        self.draining = False
        self.sync_slots = SyncSlots(SYNC_READ_SLOTS)  # store calls of syncs, hub-wide
        self._gc_task: asyncio.Task[None] | None = None
        self.presence: Presence | None = None
        self._session_config: SessionConfig | None = None

    def session_config(self) -> SessionConfig:
        """The protocol session settings, one immutable object shared by every connection (once
        started: they say whether rooms are served)."""
        if self._session_config is None:
            cfg = self.config.hub
            rooms = self.presence is not None
            self._session_config = SessionConfig(
                self.id,
                self.writable,
                cfg.ping_ms,
                cfg.max_batch,
                cfg.max_frame,
                features=((ROOMS_FEATURE,) if rooms else ()) + (QUERY_FEATURE,),
                room_limits=self.config.rooms.limits.to_wire() if rooms else None,
            )
        return self._session_config

    async def start(self) -> None:
        await self.store.open()
        rooms = self.config.rooms
        make = getattr(self.store, "presence_backplane", None)  # the Ignite store's; else in process
        backplane: Backplane = make(rooms.ttl_ms, rooms.backups) if make is not None else LocalBackplane()
        self.presence = Presence(self.id, rooms, backplane, self.metrics)
        await self.presence.start()
        for spec in self.specs.values():
            await self.store.ensure_collection(spec)
        sweeps = SharedBudget(self.config.hub.sweep_share)  # one share per hub process
        for name, spec in self.specs.items():
            feed = Feed(
                self.store,
                name,
                max_frame=self.config.hub.max_frame,
                policy=self.policy,
                metrics=self.metrics,
                recover=self._recover(spec),
                sweep_partitions=self.config.hub.sweep_partitions,
                sweep_share=sweeps,
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
        await self.connections.drain(max(deadline_s, 0.1))

    async def stop(self) -> None:
        self.draining = True
        if self._gc_task is not None:
            self._gc_task.cancel()
            with contextlib.suppress(BaseException):
                await self._gc_task
        await self.connections.close_all(CloseCode.GOING_AWAY, "hub shutting down", 3)
        if self.presence is not None:
            await self.presence.stop()
        for feed in self.feeds.values():
            await feed.stop()
        with contextlib.suppress(HubError, OSError):
            await self.store.close()

    async def ready(self) -> bool:
        if self.draining:
            return False
        try:
            async with asyncio.timeout(5):
                ok = await self.store.ping()
        except Exception:
            return False
        rooms_live = self.presence is None or self.presence.live.is_set()
        return bool(ok) and rooms_live and all(f.live for f in self.feeds.values())

    def refusal(
        self, origin: str | None, host: str | None, address: str, now_ms: int
    ) -> tuple[int, str] | None:
        """Why a WebSocket upgrade from ``address`` must be refused, as ``(close code, reason)``;
        None to accept it. Decided before the upgrade, so nothing is read from a refused socket."""
        if not origin_allowed(origin, self.config.hub.origins, host=host, dev=self.dev_mode):
            log.warning("refused WebSocket from origin %r", origin, extra={"address": address})
            self.metrics.auth_failures.labels("origin").inc()
            return (CloseCode.ORIGIN_NOT_ALLOWED, "origin not allowed")
        if self.draining:
            return (CloseCode.GOING_AWAY, "hub shutting down, retry elsewhere")
        if self.connect_rate is not None and not self.connect_rate.take(address, now_ms):
            self.metrics.rate_limited.labels("connect_rate").inc()
            log.warning("connection rate limit tripped", extra={"address": address})
            return (CloseCode.RATE_LIMITED, "rate limited (connect_rate)")
        if self.overload_lag_s and (late := loop_lag().late_now()) > self.overload_lag_s:
            # The clients connected are served first: a new one would bring its hello, syncs and
            # snapshot to a loop that is late already, and every client would time out.
            self.metrics.rate_limited.labels("overload").inc()
            if now_ms - self._overload_logged >= 1000:
                self._overload_logged = now_ms
                log.warning("overloaded: refusing new connections", extra={"late_ms": round(late * 1000)})
            return (CloseCode.OVERLOADED, "hub overloaded, retry later")
        return None

    def now_s(self) -> float:
        return time.time()
