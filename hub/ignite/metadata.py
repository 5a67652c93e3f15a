"""Binary type metadata per pyignite client, and the decoder that uses it.

Complex objects and enums decode only with their type's metadata (field names, schema field order, enum
literals). :class:`BinaryDecoder` caches it per client and fetches what is missing with OP_GET_BINARY_TYPE
(3002) over one of the client's *pooled* connections — never over the CQ connection, whose reader must not
wait on itself — then runs the synchronous :class:`~hub.ignite.decode.BinaryReader` pass again.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

from hub.core.errors import BinaryDecodeError

from .binary_types import NeedMetadata, TypeMeta
from .decode import BinaryReader

__all__ = ["BinaryDecoder"]


def _meta_from_result(type_id: int, value: Any) -> TypeMeta | None:
    if not value or not value.get("type_exists"):
        return None
    meta = TypeMeta(type_id=type_id, type_name=str(value.get("type_name") or f"#{type_id}"))
    for f in value.get("binary_fields") or []:
        meta.field_names[int(f["field_id"])] = str(f["field_name"])
    schema = value.get("schema") or {}
    for s_id, field_ids in schema.items():
        meta.schemas[int(s_id)] = [int(x) for x in field_ids]
    for e in value.get("enums") or []:
        meta.enum_names[int(e["type_id"])] = str(e["literal"])
    return meta


class BinaryDecoder:
    """Decodes binary values for one pyignite client, caching type metadata (shared per client)."""

    _shared: ClassVar[weakref.WeakKeyDictionary[Any, BinaryDecoder]] = weakref.WeakKeyDictionary()

    def __init__(self, client: Any) -> None:
        self._client = client
        self.meta: dict[int, TypeMeta] = {}
        self._lock = asyncio.Lock()

    @classmethod
    def for_client(cls, client: Any) -> BinaryDecoder:
        dec = cls._shared.get(client)
        if dec is None:
            dec = cls(client)
            cls._shared[client] = dec
        return dec

    def decode_sync(self, buf: bytes | bytearray | memoryview, pos: int = 0) -> tuple[Any, int]:
        """Decode one value at ``pos``; raises ``NeedMetadata`` when a type is not cached yet."""
        r = BinaryReader(buf, pos, self.meta)
        return r.read(), r.pos

    async def run(
        self, fn: Callable[[BinaryReader], Any], buf: bytes | bytearray | memoryview, pos: int
    ) -> Any:
        """Run ``fn`` over a reader at ``pos``, fetching missing metadata and retrying as needed."""
        fetched: set[tuple[int, int | None]] = set()
        while True:
            try:
                return fn(BinaryReader(buf, pos, self.meta))
            except NeedMetadata as need:
                key = (need.type_id, need.schema_id)
                if key in fetched:
                    raise BinaryDecodeError(
                        f"binary type {need.type_id} (schema {need.schema_id}) is not registered"
                    ) from None
                fetched.add(key)
                await self.fetch_metadata(need.type_id)

    async def decode(self, buf: bytes | bytearray | memoryview, pos: int = 0) -> Any:
        """Decode one value at ``pos`` (fetching metadata over the client's pooled connections)."""
        return await self.run(lambda r: r.read(), buf, pos)

    async def fetch_metadata(self, type_id: int) -> TypeMeta | None:
        from pyignite.api.binary import get_binary_type_async

        async with self._lock:
            conn = await self._client.random_node()
            result = await get_binary_type_async(conn, type_id)
            if result.status != 0:
                raise BinaryDecodeError(f"OP_GET_BINARY_TYPE({type_id}) failed: {result.message}")
            meta = _meta_from_result(type_id, result.value)
            if meta is not None:
                self.meta[type_id] = meta
            return meta
