"""The running hub: the store, one live feed per collection, the open connections, the token check.

:class:`Hub` is created by the app's lifespan (``hub/app.py``) and shared by every connection
(``hub/transport/ws.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from hub.config import Config
from hub.core.errors import CloseCode, HubError, Unauthorized
from hub.feed import Feed
from hub.store.base import CollectionSpec, Store

if TYPE_CHECKING:
    from hub.transport.ws import Connection

log = logging.getLogger(__name__)

AuthCheck = Callable[[str | None], Awaitable[None]]
"""Raises :class:`Unauthorized` (or a subclass) when a ``hello`` token is refused."""


def auth_check(config: Config) -> AuthCheck:
    """The token rule of ``config``: the ``[auth]`` table when present (``hub.auth``), else
    ``dev_auth`` (anything goes) or the static ``tokens`` allowlist (empty = nobody gets in)."""
    if config.auth is not None:
        from hub.auth import authenticator_from_config

        authenticator = authenticator_from_config(config.auth)

        async def by_authenticator(token: str | None) -> None:
            await authenticator.authenticate(token, now_s=time.time())

        return by_authenticator
    dev = config.hub.dev_auth
    tokens = frozenset(config.hub.tokens)

    async def by_list(token: str | None) -> None:
        if dev:
            return
        if not token:
            raise Unauthorized("missing")
        if token not in tokens:
            raise Unauthorized("rejected")

    return by_list


class Hub:
    def __init__(self, config: Config, store: Store, *, check_token: AuthCheck | None = None) -> None:
        self.config = config
        self.store = store
        self.id = uuid.uuid4().hex[:12]
        self.specs: dict[str, CollectionSpec] = {c.name: c for c in config.collections}
        self.writable = {c.name: c.writable for c in config.collections}
        self.feeds: dict[str, Feed] = {}
        self.connections: set[Connection] = set()
        self.check_token = check_token or auth_check(config)
        self.stats: dict[str, Any] = {"connections": 0, "protocol_errors": 0}

    async def start(self) -> None:
        await self.store.open()
        for spec in self.specs.values():
            await self.store.ensure_collection(spec)
        for name in self.specs:
            feed = Feed(self.store, name, max_frame=self.config.hub.max_frame)
            self.feeds[name] = feed
            await feed.start()

    async def stop(self) -> None:
        conns = list(self.connections)
        for conn in conns:
            conn.request_close(CloseCode.GOING_AWAY, "hub shutting down")
        if conns:
            await asyncio.wait([asyncio.ensure_future(c.finished.wait()) for c in conns], timeout=3)
        for feed in self.feeds.values():
            await feed.stop()
        with contextlib.suppress(HubError, OSError):
            await self.store.close()

    async def ready(self) -> bool:
        try:
            ok = await asyncio.wait_for(self.store.ping(), 5)
        except Exception:
            return False
        return bool(ok) and all(f.live for f in self.feeds.values())
