"""Key-value reads (getAll, scan) decoded by the hub's own binary decoder instead of pyignite's.

pyignite decodes every binary object of a ``get_all``/``scan`` response field by field in pure Python, one
asyncio task per value and per field, which dominated snapshot, catch-up, the apply prefetch and stamping.
Here the request is sent over one of the client's pooled connections (or, inside a pyignite transaction,
over the transaction's connection with its tx id, exactly as pyignite's own ``get_all`` does) and the
response payload is decoded synchronously by :class:`hub.ignite.metadata.BinaryDecoder` (the decoder of
continuous-query events, sharing its cached binary metadata).

Values come back as the decoder produces them (:class:`~hub.ignite.decode.BinaryObject` dicts, lists, aware
UTC datetimes, ...); :func:`hub.store.ignite_binary.plain` / ``fields_of`` turn both these and pyignite's
values into the same plain Python (tests compare the two decodings).

Partition awareness is not used (pyignite's ``get_all`` does not use it either): the request goes to a
random node, which routes it. A value the decoder cannot read (:class:`BinaryDecodeError`: a type it does
not know) makes the call fall back to pyignite.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

from pyignite.api.tx_api import get_tx_connection, get_tx_id  # type: ignore[import-untyped,unused-ignore]
from pyignite.exceptions import CacheError  # type: ignore[import-untyped,unused-ignore]

from hub.ignite.connection import request
from hub.ignite.decode import BinaryDecodeError, BinaryReader, hashable
from hub.ignite.metadata import BinaryDecoder
from hub.ignite.protocol import I32, I64, NULL, OpCode, encode_string, parse_response, topology_version
from hub.store.ignite_binary import RawBinary

__all__ = ["BinaryDecodeError", "FastPathUnavailable", "get_all", "scan_pages"]

log = logging.getLogger(__name__)

_TX_FLAG = 0x02

_fallback_logged: set[str] = set()


class FastPathUnavailable(Exception):
    """The request cannot be made here (a key type, cache option or context this module does not handle)."""


def _key_bytes(key: Any) -> bytes:
    if isinstance(key, str):
        return encode_string(key)
    if isinstance(key, tuple) and len(key) == 2 and key[1] is RawBinary:
        return bytes(key[0])
    raise FastPathUnavailable(f"key type {type(key).__name__}")


async def _connection(cache: Any) -> tuple[Any, bytes]:
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


async def _call(conn: Any, op: OpCode, payload: bytes) -> memoryview:
    """Send one request on a pooled (or tx) connection; the response payload (CacheError on an error)."""
    data = await request(conn, op, payload)
    resp = parse_response(data)
    new = topology_version(data)
    if new is not None:  # as pyignite does: remember the newer affinity version
        client = conn.client
        if new > client.affinity_version:
            client.affinity_version = new
    if resp.status != 0:
        raise CacheError(resp.message)
    return resp.payload


def _pairs(r: BinaryReader, n: int) -> list[tuple[Any, Any]]:
    out = []
    for _ in range(n):
        k = r.read()
        out.append((k, r.read()))
    return out


def _read_map(r: BinaryReader) -> dict[Any, Any]:
    n = r.i32()
    if n < 0:
        raise BinaryDecodeError(f"negative entry count {n}")
    return {hashable(k): v for k, v in _pairs(r, n)}


def _fallback(what: str, err: BaseException) -> None:
    if what not in _fallback_logged:
        _fallback_logged.add(what)
        log.warning("%s through pyignite: the hub's decoder cannot read it (%s)", what, err)


async def get_all(cache: Any, keys: Iterable[Any]) -> dict[Any, Any]:
    """``cache.get_all(keys)`` (keys: str or ``string_key`` tuples), values decoded by the hub's decoder."""
    keys = list(keys)
    if not keys:
        return {}
    try:
        payload = I32.pack(len(keys)) + b"".join(_key_bytes(k) for k in keys)
        conn, header = await _connection(cache)
    except FastPathUnavailable as e:
        _fallback(f"getAll on {cache.name}", e)
        return dict(await cache.get_all(keys))
    body = await _call(conn, OpCode.CACHE_GET_ALL, header + payload)
    try:
        result: dict[Any, Any] = await BinaryDecoder.for_client(cache.client).run(_read_map, body, 0)
        return result
    except BinaryDecodeError as e:
        _fallback(f"getAll on {cache.name}", e)
        return dict(await cache.get_all(keys))


def _read_page(r: BinaryReader) -> tuple[list[tuple[Any, Any]], bool]:
    n = r.i32()
    if n < 0:
        raise BinaryDecodeError(f"negative row count {n}")
    rows = _pairs(r, n)
    return rows, r.u8() != 0


async def scan_pages(cache: Any, page_size: int = 1000) -> AsyncIterator[list[tuple[Any, Any]]]:
    """A full scan query of ``cache`` (outside transactions), page by page of ``(key, value)``.

    Raises:
        BinaryDecodeError: a value the hub's decoder cannot read;
        FastPathUnavailable: inside a transaction, or a cache with an expiry policy (use pyignite's scan).
    """
    if get_tx_connection() is not None:
        raise FastPathUnavailable("scan inside a transaction")
    conn, header = await _connection(cache)
    decoder = BinaryDecoder.for_client(cache.client)
    # filter: null; page size; partitions: -1 (all); local: false
    body = await _call(conn, OpCode.QUERY_SCAN, header + NULL + I32.pack(page_size) + I32.pack(-1) + b"\x00")
    cursor: int = I64.unpack_from(body, 0)[0]
    more = True
    try:
        rows, more = await decoder.run(_read_page, body, 8)
        yield rows
        while more:
            body = await _call(conn, OpCode.QUERY_SCAN_CURSOR_GET_PAGE, I64.pack(cursor))
            rows, more = await decoder.run(_read_page, body, 0)
            yield rows
    finally:
        if more and conn.alive:  # the server keeps an unfinished cursor open: close it
            try:
                await asyncio.shield(_call(conn, OpCode.RESOURCE_CLOSE, I64.pack(cursor)))
            except Exception as e:  # the cursor dies with the connection anyway
                log.debug("closing scan cursor %d failed: %r", cursor, e)
