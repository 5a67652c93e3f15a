"""Run the hub in-process on a free port with a real uvicorn (websockets-sansio), for tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import uvicorn

from hub.app import HubServer, create_app, server_options
from hub.config import Config
from hub.store.base import Store
from tests.support.ports import free_port


@dataclass
class Running:
    url: str
    http: str
    server: uvicorn.Server


@contextlib.asynccontextmanager
async def running_hub(config: Config, store: Store) -> AsyncIterator[Running]:
    port = free_port()
    app = create_app(config, store=store)
    opts = server_options(config)
    opts.update(host="127.0.0.1", port=port, log_level="warning")
    server = HubServer(uvicorn.Config(app, **opts))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield Running(f"ws://127.0.0.1:{port}/sync", f"http://127.0.0.1:{port}", server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
