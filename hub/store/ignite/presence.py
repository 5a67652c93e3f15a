"""The presence backplane on Ignite (contract: hub/store/backplane.py).

Two ATOMIC caches, created by the first hub that needs them:

* ``synchub_presence``: key ``json [room, member id]``, value the member as base64 msgpack
  ``[room, id, user, state, owner, v]`` (a string, so that Ignite's compare-and-set operations
  compare it exactly). Expiry policy: ``ttl_ms`` after create and after each update. The owning hub
  refreshes its entries every ttl / 3 (a replace with the same value, which restarts the expiry);
  entries of a hub that died stop being refreshed and expire, and the continuous query (with
  expired events) tells every other hub.
* ``synchub_bcast``: one entry per broadcast (key ``<hub>:<n>``), expiring after BCAST_TTL_MS; the
  continuous query's created events carry the message to the other hubs. Nothing is kept longer.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pyignite.datatypes import ExpiryPolicy  # type: ignore[import-untyped,unused-ignore]
from pyignite.datatypes.cache_config import (  # type: ignore[import-untyped,unused-ignore]
    CacheAtomicityMode,
    WriteSynchronizationMode,
)
from pyignite.datatypes.prop_codes import (  # type: ignore[import-untyped,unused-ignore]
    PROP_BACKUPS_NUMBER,
    PROP_CACHE_ATOMICITY_MODE,
    PROP_NAME,
    PROP_WRITE_SYNCHRONIZATION_MODE,
)

from hub import codec
from hub.core.errors import StoreUnavailable, SubscriptionLost
from hub.core.presence import Key, Member
from hub.ignite import continuous_query
from hub.ignite.continuous_query import EventType
from hub.ignite.deadline import bounded
from hub.store.backplane import Broadcast, Event, MemberGone, MemberPut
from hub.store.ignite.breaker import Breaker
from hub.store.ignite.tx import OP_TIMEOUT_S, unreachable

log = logging.getLogger(__name__)

PRESENCE_CACHE = "synchub_presence"
BCAST_CACHE = "synchub_bcast"
BCAST_TTL_MS = 10_000
#: Events are flushed by the server after this long (ms) when a page is not full.
CQ_TIME_INTERVAL_MS = 10
CQ_PAGE_SIZE = 64


def encode_key(key: Key) -> str:
    return json.dumps(list(key), separators=(",", ":"))


def decode_key(raw: object) -> Key | None:
    try:
        room, mid = json.loads(str(raw))
        return (str(room), str(mid))
    except (ValueError, TypeError):
        return None


def encode_member(m: Member) -> str:
    return base64.b64encode(codec.encode([m.room, m.id, m.user, m.state, m.owner, m.v])).decode()


def decode_member(raw: object) -> Member | None:
    if not isinstance(raw, str):
        return None
    try:
        room, mid, user, state, owner, v = codec.decode(base64.b64decode(raw))
        return Member(str(room), str(mid), user, state, str(owner), int(v))
    except Exception:  # another writer's entry: not ours to interpret
        return None


def _cache_config(name: str, backups: int) -> dict[int, Any]:
    # No expiry policy on the cache: each hub writes with its own ``ttl_ms`` (per-operation
    # policy), so hubs configured differently do not inherit the first one's.
    return {
        PROP_NAME: name,
        PROP_CACHE_ATOMICITY_MODE: CacheAtomicityMode.ATOMIC,
        PROP_BACKUPS_NUMBER: backups,
        PROP_WRITE_SYNCHRONIZATION_MODE: WriteSynchronizationMode.FULL_SYNC,
    }


class IgniteBackplane:
    def __init__(
        self,
        client: Any,
        *,
        ttl_ms: int,
        backups: int,
        ready: Callable[[], Awaitable[None]] | None = None,
        breaker: Breaker | None = None,
    ) -> None:
        self.client = client
        self.breaker = breaker or Breaker()
        self._ready = ready  # no cache is created while a node is starting (it can crash the node)
        self.ttl_ms = ttl_ms
        self.backups = backups
        self.presence: Any = None
        self.bcast: Any = None
        self._n = itertools.count()

    async def _call(self, what: str, op: Any) -> Any:
        try:
            trial = self.breaker.admit()  # the store's: fail fast while no node can be reached
        except StoreUnavailable:
            op.close()  # the request's coroutine, never to be awaited
            raise
        try:
            result = await bounded(lambda: op, OP_TIMEOUT_S)  # a busy loop is not a dead store
        except Exception as exc:
            if unreachable(exc, self.client):
                self.breaker.unreachable()
            elif type(exc).__module__.startswith("pyignite"):
                self.breaker.reachable()
            if isinstance(exc, (OSError, TimeoutError, ConnectionError)) or type(exc).__module__.startswith(
                "pyignite"
            ):
                raise StoreUnavailable(f"presence {what}: {exc!r}") from exc
            raise
        finally:
            self.breaker.done(trial)
        self.breaker.reachable()
        return result

    async def open(self) -> None:
        if self._ready is not None:
            await self._ready()
        presence = await self._call(
            "cache", self.client.get_or_create_cache(_cache_config(PRESENCE_CACHE, self.backups))
        )
        bcast = await self._call("cache", self.client.get_or_create_cache(_cache_config(BCAST_CACHE, 0)))
        self.presence = presence.with_expire_policy(ExpiryPolicy(create=self.ttl_ms, update=self.ttl_ms))
        self.bcast = bcast.with_expire_policy(ExpiryPolicy(create=BCAST_TTL_MS, update=BCAST_TTL_MS))

    async def close(self) -> None:
        pass

    async def put(self, m: Member) -> None:
        await self._call("put", self.presence.put(encode_key(m.key), encode_member(m)))

    async def refresh(self, m: Member) -> bool:
        value = encode_member(m)
        return bool(
            await self._call("refresh", self.presence.replace_if_equals(encode_key(m.key), value, value))
        )

    async def restore(self, m: Member) -> bool:
        return bool(
            await self._call("restore", self.presence.put_if_absent(encode_key(m.key), encode_member(m)))
        )

    async def remove(self, m: Member) -> bool:
        return bool(
            await self._call("remove", self.presence.remove_if_equals(encode_key(m.key), encode_member(m)))
        )

    async def publish(self, hub: str, frame: dict[str, Any]) -> None:
        key = f"{hub}:{next(self._n)}"
        value = base64.b64encode(codec.encode([hub, frame])).decode()
        await self._call("publish", self.bcast.put(key, value))

    async def snapshot(self) -> list[Member]:
        out: list[Member] = []

        async def scan() -> None:
            async with self.presence.scan(page_size=1000) as cursor:
                async for _, value in cursor:
                    m = decode_member(value)
                    if m is not None:
                        out.append(m)

        await self._call("scan", scan())
        return out

    async def events(self) -> AsyncIterator[list[Event]]:
        """Both caches' events, merged; raises SubscriptionLost when either stream is lost."""
        # the caches may be gone since the last stream (a node restarted without persistence):
        # get-or-create them first, or the reopened query would fail on them for ever
        await self.open()
        queue: asyncio.Queue[list[Event] | BaseException] = asyncio.Queue()
        async with contextlib.AsyncExitStack() as stack:
            cqs = []
            for name, expired in ((PRESENCE_CACHE, True), (BCAST_CACHE, False)):
                cq = continuous_query(
                    self.client,
                    name,
                    include_expired=expired,
                    page_size=CQ_PAGE_SIZE,
                    time_interval_ms=CQ_TIME_INTERVAL_MS,
                    buffer_batches=65536,
                )
                cqs.append(await stack.enter_async_context(cq))

            async def pump(cq: Any) -> None:
                try:
                    async for batch in cq:
                        out = [e for e in map(_event, batch) if e is not None]
                        if out:
                            queue.put_nowait(out)
                    queue.put_nowait(SubscriptionLost("closed", cq.cache_name))
                except BaseException as exc:
                    queue.put_nowait(exc)
                    raise

            tasks = [asyncio.create_task(pump(cq), name=f"presence-cq:{cq.cache_name}") for cq in cqs]
            try:
                yield []  # open: the caller takes its snapshot now
                while True:
                    item = await queue.get()
                    if isinstance(item, BaseException):
                        raise item
                    yield item
            finally:
                for t in tasks:
                    t.cancel()
                for t in tasks:
                    with contextlib.suppress(BaseException):
                        await t


def _event(ev: Any) -> Event | None:
    if isinstance(ev.key, str) and ev.key.startswith("["):
        key = decode_key(ev.key)
        if key is None:
            return None
        if ev.type in (EventType.REMOVED, EventType.EXPIRED):
            old = decode_member(ev.old) if ev.old is not None else None
            return MemberGone(key, old.owner if old is not None else None)
        m = decode_member(ev.value)
        return MemberPut(m) if m is not None else None
    if ev.type != EventType.CREATED or not isinstance(ev.value, str):
        return None
    try:
        hub, frame = codec.decode(base64.b64decode(ev.value))
    except Exception:
        return None
    return Broadcast(str(hub), frame) if isinstance(frame, dict) else None
