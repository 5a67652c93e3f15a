"""The Starlette application: ``/sync``, health probes and the demo's static files.

``create_app(config, store=...)``: the lifespan opens the store (an ``IgniteStore`` built from the
config unless one is passed), ensures every configured collection, starts one live feed per
collection, and on shutdown closes the connections (4500), the feeds and the store.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from hub.config import Config
from hub.runtime import Hub
from hub.store.base import Store
from hub.transport.ws import sync_endpoint

REPO_ROOT = Path(__file__).resolve().parent.parent


def client_dir(config: Config) -> Path:
    """The ``client-js`` directory: ``[hub] static_dir`` if set, else the one next to ``hub/``."""
    if config.hub.static_dir:
        return Path(config.hub.static_dir).expanduser().resolve()
    return REPO_ROOT / "client-js"


WS_SIZE_SLACK = 64 * 1024


def server_options(config: Config) -> dict[str, Any]:
    """uvicorn options for the hub: deflate off (frames are shared between connections),
    in-protocol pings only, a WebSocket size limit just above ``max_frame`` (frames between the two
    get our 4009, bigger ones uvicorn's 1009), the websockets-sansio implementation when present."""
    try:
        import uvicorn.protocols.websockets.websockets_sansio_impl  # noqa: F401

        ws = "websockets-sansio"
    except ImportError:
        ws = "websockets"
    return {
        "host": config.hub.host,
        "port": config.hub.port,
        "ws": ws,
        "ws_max_size": config.hub.max_frame + WS_SIZE_SLACK,
        "ws_per_message_deflate": False,
        "ws_ping_interval": None,
        "ws_ping_timeout": None,
        "lifespan": "on",
    }


def _default_store(config: Config) -> Store:
    from hub.store.ignite import IgniteStore

    return IgniteStore(list(config.ignite.addresses))


def create_app(config: Config | None = None, *, store: Store | None = None) -> Starlette:
    """Build the hub application.

    Args:
        config: The validated configuration (defaults: no collections, local Ignite).
        store: Use this store instead of an ``IgniteStore`` (tests pass a ``MemoryStore``).
    """
    cfg = config or Config()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hub = Hub(cfg, store if store is not None else _default_store(cfg))
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

    async def status_page(request: Request) -> Response:
        hub: Hub = request.app.state.hub
        rows = "".join(
            f"<li>{html.escape(name)}: {'live' if feed.live else 'down'}</li>"
            for name, feed in hub.feeds.items()
        )
        body = f"<!doctype html><title>synchub</title><h1>synchub {hub.id}</h1><ul>{rows}</ul>"
        return HTMLResponse(body)

    routes: list[BaseRoute] = [
        WebSocketRoute("/sync", sync_endpoint),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
    base = client_dir(cfg)
    src = base / "src"
    vendor = base / "node_modules" / "@msgpack" / "msgpack" / "dist.esm"
    demo = base / "demo"
    if src.is_dir():
        routes.append(Mount("/src", StaticFiles(directory=src), name="src"))
    if vendor.is_dir():
        routes.append(Mount("/vendor/msgpack", StaticFiles(directory=vendor), name="vendor"))
    if demo.is_dir():
        routes.append(Mount("/", StaticFiles(directory=demo, html=True), name="demo"))
    else:
        routes.append(Route("/", status_page))
    return Starlette(routes=routes, lifespan=lifespan)
