"""The Starlette application: ``/sync``, health probes, ``/metrics`` and the demo's static files.

``create_app(config, store=...)``: the lifespan opens the store (an ``IgniteStore`` built from the
config unless one is passed), ensures every configured collection, starts one live feed per
collection, and on shutdown closes the connections (4500), the feeds and the store.
:class:`HubServer` is the uvicorn server to run it with: on SIGTERM it stops accepting, lets every
connection finish its mutation batches in flight and close with 4500, within
``[hub] shutdown_deadline_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from hub.config import Config
from hub.metrics import CONTENT_TYPE, HubMetrics
from hub.server.hub import Hub
from hub.server.ws import sync_endpoint
from hub.store.base import Store

REPO_ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


def client_dir(config: Config) -> Path:
    """The ``client-js`` directory: ``[hub] static_dir`` if set, else the one next to ``hub/``."""
    if config.hub.static_dir:
        return Path(config.hub.static_dir).expanduser().resolve()
    return REPO_ROOT / "client-js"


WS_SIZE_SLACK = 64 * 1024


def server_options(config: Config) -> dict[str, Any]:
    """uvicorn options for the hub: deflate off (frames are shared between connections),
    in-protocol pings only, a WebSocket size limit just above ``max_frame`` (frames between the two
    get our 4009, bigger ones uvicorn's 1009), the websockets-sansio implementation when present,
    in the lighter form of ``hub/server/wsprotocol.py``."""
    ws: Any
    try:
        from hub.server.wsprotocol import LeanSansIOProtocol

        ws = LeanSansIOProtocol
    except ImportError:  # an uvicorn without websockets-sansio
        ws = "websockets"
    return {
        "host": config.hub.host,
        "port": config.hub.port,
        "ws": ws,
        "ws_max_size": config.hub.max_frame + WS_SIZE_SLACK,
        # Off by default: frames are encoded once and shared, and no decompression bombs. When
        # enabled, ws_max_size still bounds every decompressed message.
        "ws_per_message_deflate": config.hub.ws_deflate,
        "ws_ping_interval": None,
        "ws_ping_timeout": None,
        "lifespan": "on",
    }


def _default_store(config: Config) -> Store:
    from hub.store.ignite import IgniteStore

    return IgniteStore(
        list(config.ignite.addresses),
        client_options=config.ignite.client_kwargs(),
        dedup_ttl_ms=config.hub.dedup_ttl_ms,
        log_writes=config.hub.log_writes,
        # at least one backup: epochs, watermarks and dedup records must outlive a node, even when
        # the collections' data need not (a lost epoch would void every cursor)
        system_backups=max([1, *(c.backups for c in config.collections)]),
    )


SYNC_PATH = "/sync"


class HubApp(Starlette):
    """Starlette, with ``/sync`` WebSockets handed to the endpoint before the middleware stack.

    An idle connection keeps every coroutine of the stack it was dispatched through alive for
    its whole life: Starlette's error and exception middleware, the router and the route's
    session wrapper were nine coroutines, their closures and a second ``WebSocket``, about
    4 KiB per connection (docs/benchmarks.md, memory). None of them acts on this endpoint: it
    raises neither ``HTTPException`` nor ``WebSocketException``, and anything else it raised went
    through them to uvicorn unchanged, as it now goes directly. Other scopes, and paths the route
    would not match either (``/sync/``), take the usual way; the ``WebSocketRoute`` stays in the
    routes for those lookups.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and route_path(scope) == SYNC_PATH:
            scope["app"] = self
            await sync_endpoint(WebSocket(scope, receive, send))
            return
        await super().__call__(scope, receive, send)


def route_path(scope: Scope) -> str:
    """The path the router matches: ``path`` without a ``root_path`` prefix (behind a proxy)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root) :] if path[len(root)] == "/" else path


def create_app(config: Config | None = None, *, store: Store | None = None) -> Starlette:
    """Build the hub application.

    Args:
        config: The validated configuration (defaults: no collections, local Ignite).
        store: Use this store instead of an ``IgniteStore`` (tests pass a ``MemoryStore``).
    """
    cfg = config or Config()
    metrics = HubMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hub = Hub(cfg, store if store is not None else _default_store(cfg), metrics=metrics)
        app.state.hub = hub
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        hub: Hub = request.app.state.hub
        if await hub.ready():
            return PlainTextResponse("ready")
        return PlainTextResponse("not ready", status_code=503)

    async def metrics_page(request: Request) -> Response:
        hub: Hub = request.app.state.hub
        for name, feed in hub.feeds.items():
            metrics.feed_live.labels(name).set(1 if feed.live else 0)
        metrics.sample(getattr(hub.store, "open_cursors", None))
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def status_page(request: Request) -> Response:
        hub: Hub = request.app.state.hub
        rows = "".join(
            f"<li>{html.escape(name)}: {'live' if feed.live else 'down'}</li>"
            for name, feed in hub.feeds.items()
        )
        body = f"<!doctype html><title>synchub</title><h1>synchub {hub.id}</h1><ul>{rows}</ul>"
        return HTMLResponse(body)

    routes: list[BaseRoute] = [
        WebSocketRoute(SYNC_PATH, sync_endpoint),  # dispatched by HubApp first
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_page),
    ]
    routes += _client_routes(client_dir(cfg), status_page)
    return HubApp(routes=routes, lifespan=lifespan)


def _client_routes(base: Path, status_page: Callable[[Request], Awaitable[Response]]) -> list[BaseRoute]:
    """The JS client's sources and its msgpack dependency when present; at ``/`` the demo page,
    or ``status_page`` without one."""
    src = base / "src"
    vendor = base / "node_modules" / "@msgpack" / "msgpack" / "dist.esm"
    demo = base / "demo"
    routes: list[BaseRoute] = []
    if src.is_dir():
        routes.append(Mount("/src", StaticFiles(directory=src), name="src"))
    if vendor.is_dir():
        routes.append(Mount("/vendor/msgpack", StaticFiles(directory=vendor), name="vendor"))
    if demo.is_dir():
        routes.append(Mount("/", StaticFiles(directory=demo, html=True), name="demo"))
    else:
        routes.append(Route("/", status_page))
    return routes


class HubServer(uvicorn.Server):
    """uvicorn's server with the hub's graceful shutdown in front of uvicorn's own.

    On SIGTERM/SIGINT (``should_exit``): stop accepting (close the listening sockets, ``/readyz``
    turns 503), let every connection finish the mutation batches it already read and deliver
    their acks, close it with 4500 ``going_away`` (retry elsewhere), then run uvicorn's shutdown
    (lifespan: feeds and store). The whole shutdown is bounded by ``[hub] shutdown_deadline_ms``
    (uvicorn's ``timeout_graceful_shutdown`` cancels what is left).
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises the captured SIGTERM after serving, which kills the process with the
        # signal's status; after a graceful shutdown we exit normally instead.
        with super().capture_signals():
            try:
                yield
            finally:
                captured = getattr(self, "_captured_signals", None)
                if isinstance(captured, list):
                    captured.clear()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        started = time.monotonic()
        for server in self.servers:
            server.close()
        app = getattr(self.config, "loaded_app", None)
        hub = _find_hub(app)
        if hub is not None:
            deadline = hub.config.hub.shutdown_deadline_ms / 1000
            log.info("draining connections", extra={"connections": len(hub.connections)})
            with contextlib.suppress(Exception):
                await asyncio.wait_for(hub.drain(deadline * 0.8), deadline * 0.9)
            left = max(0.1, deadline - (time.monotonic() - started))
            self.config.timeout_graceful_shutdown = int(max(1, left))
        await super().shutdown(sockets)


def _find_hub(app: Any) -> Hub | None:
    """The Hub behind uvicorn's (possibly middleware-wrapped) app."""
    for _ in range(10):
        if app is None:
            return None
        state = getattr(app, "state", None)
        hub = getattr(state, "hub", None) if state is not None else None
        if isinstance(hub, Hub):
            return hub
        app = getattr(app, "app", None)
    return None
