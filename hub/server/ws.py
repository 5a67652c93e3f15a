"""The ``/sync`` WebSocket endpoint: decide the upgrade, then run one :class:`Connection`.

The connection (``connection.py``) reads, decodes and hands each frame to its session; ``driver.py``
carries out the session's effects and ticks it.

Security wiring (docs/security.md): the hub decides the ``Origin`` before the upgrade; ``sub``,
every mutation and every frame of documents go through the :class:`~hub.authz.AccessPolicy`;
message and mutation token buckets apply in ``connection.py``, the per-subject cap in
``connections.py``.
"""

from __future__ import annotations

import uuid

from starlette.websockets import WebSocket

from hub.logs import bind
from hub.server.connection import Connection
from hub.server.driver import now_ms
from hub.server.hub import Hub


async def sync_endpoint(ws: WebSocket) -> None:
    """Starlette ``WebSocketRoute`` handler for ``/sync``.

    Every refusal here is decided before the upgrade is accepted; the socket is then accepted
    only to deliver a close code the browser can see, and nothing is read from it."""
    hub: Hub = ws.app.state.hub
    conn_id = uuid.uuid4().hex[:12]
    bind(conn=conn_id)
    origin = ws.headers.get("origin")
    address = ws.client.host if ws.client is not None else "?"
    refusal = hub.refusal(origin, ws.headers.get("host"), address, now_ms())
    await ws.accept()
    if refusal is not None:
        await ws.close(refusal[0], refusal[1])
        return
    await Connection.for_hub(hub, ws, conn_id).run()
