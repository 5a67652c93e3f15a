"""Requests the store sends itself on pyignite's connections (read.py's getAll, scans and SQL, the
write path's putAll): picking the connection and cache header, one request and its response, closing
the cursors they open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from pyignite.api.tx_api import get_tx_connection, get_tx_id  # type: ignore[import-untyped,unused-ignore]
from pyignite.exceptions import CacheError  # type: ignore[import-untyped,unused-ignore]

from hub.core.errors import FastPathUnavailable
from hub.ignite.connection import request
from hub.ignite.protocol import I32, I64, OpCode, encode_string, parse_response, topology_version
from hub.store.ignite.encode import RawBinary

__all__ = ["call", "close_cursor", "connection_for", "fallback", "open_cursor", "put_all", "serialised"]

log = logging.getLogger("hub.store.ignite.read")

_TX_FLAG = 0x02

_fallback_logged: set[str] = set()


async def connection_for(cache: Any) -> tuple[Any, bytes]:
    """(connection, cache header: cache id, flags and tx id) for one request on ``cache``."""
    info = cache.cache_info
    if info.expiry_policy is not None:
        raise FastPathUnavailable("cache with an expiry policy")
    conn = get_tx_connection()
    tx_id = get_tx_id()
    if conn is None:
        conn = await cache.client.random_node()
    header = I32.pack(info.cache_id)
    if tx_id and conn.protocol_context.is_transactions_supported():
        return conn, header + bytes([_TX_FLAG]) + I32.pack(tx_id)
    return conn, header + b"\x00"


async def call(conn: Any, op: OpCode, payload: bytes, error: type[Exception] = CacheError) -> memoryview:
    """Send one request on a pooled (or tx) connection; the response payload (``error`` on an error)."""
    data = await request(conn, op, payload)
    resp = parse_response(data)
    new = topology_version(data)
    if new is not None:  # as pyignite does: remember the newer affinity version
        client = conn.client
        if new > client.affinity_version:
            client.affinity_version = new
    if resp.status != 0:
        raise error(resp.message)
    return resp.payload


def fallback(what: str, err: BaseException) -> None:
    if what not in _fallback_logged:
        _fallback_logged.add(what)
        log.warning("%s through pyignite (%s)", what, err)


def serialised(value: Any) -> bytes:
    """The wire bytes of a key or value the hub serialised itself (a ``str``, or ``(bytes,
    RawBinary)`` from ``string_key``/``encode_raw``); anything else goes through pyignite."""
    if isinstance(value, str):
        return encode_string(value)
    if isinstance(value, tuple) and len(value) == 2 and value[1] is RawBinary:
        return bytes(value[0])
    raise FastPathUnavailable(f"a value of type {type(value).__name__}, not pre-serialised")


async def put_all(cache: Any, items: Mapping[Any, Any]) -> None:
    """``cache.put_all(items)`` for keys and values serialised already (``string_key``, ``(bytes,
    RawBinary)``): their bytes go out as they are, where pyignite infers a type for every key and
    value again (a fifth of the write path's cost in a profile, docs/benchmarks.md). Inside a
    transaction the request carries its id and goes on its connection, as pyignite's own would."""
    if not items:
        return
    try:
        payload = I32.pack(len(items)) + b"".join(serialised(k) + serialised(v) for k, v in items.items())
        conn, header = await connection_for(cache)
    except FastPathUnavailable as e:
        fallback(f"putAll on {cache.name}", e)
        await cache.put_all(dict(items))
        return
    await call(conn, OpCode.CACHE_PUT_ALL, header + payload)


async def close_cursor(conn: Any, cursor: int, kind: str) -> None:
    """Close an unfinished server cursor (the server keeps it open until then, or until the connection
    ends), shielded: a cancelled reader still frees it."""
    if conn.alive:
        try:
            await asyncio.shield(call(conn, OpCode.RESOURCE_CLOSE, I64.pack(cursor)))
        except Exception as e:  # the cursor dies with the connection anyway
            log.debug("closing %s cursor %d failed: %r", kind, cursor, e)


_closing: set[asyncio.Task[None]] = set()


async def open_cursor(conn: Any, op: OpCode, payload: bytes, kind: str, error: type[Exception]) -> memoryview:
    """The first response of a query (cursor id first, more flag last). A caller cancelled meanwhile (a
    timeout) leaves the request running and closes the cursor it opens, if unfinished: else each
    timeout would hold one of the connection's 128 cursors until the connection ends."""
    first = asyncio.ensure_future(call(conn, op, payload, error))
    try:
        return await asyncio.shield(first)
    except asyncio.CancelledError:
        # tracked from now, not from the response: ``_closing`` empty means no late close is to come
        task = asyncio.ensure_future(_close_late(conn, first, kind))
        _closing.add(task)
        task.add_done_callback(_closing.discard)
        raise


async def _close_late(conn: Any, first: asyncio.Future[memoryview], kind: str) -> None:
    """Wait for the response of a cancelled caller's query; close the cursor it opened, if unfinished."""
    try:
        body = await first
    except Exception:  # an error response or a lost connection opens no cursor
        return
    if body[-1]:  # more: unfinished
        await close_cursor(conn, I64.unpack_from(body, 0)[0], kind)
