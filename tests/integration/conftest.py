"""Fixtures and helpers for the hub integration tests: real Ignite nodes, real hub processes.

* ``hubs``: a factory of :class:`tests.support.hubproc.HubProcess` (stopped at teardown, logs in
  ``test-artifacts/hub-<name>.log``).
* ``fresh(prefix)``: a fresh name for a collection / cache, so tests never see each other's data.
* ``ignite_docs``: what a data cache holds, read directly with pyignite (no hub code involved).
* ``wait_for``: poll a (possibly async) predicate with a generous bound.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.hubproc import HubProcess
from tests.support.waiting import awaited_at
from tests.support.wsclient import HubClient

Docs = dict[str, dict[str, Any]]


def fresh(prefix: str = "c") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def plain(value: Any) -> Any:
    """A pyignite value as plain Python data (binary objects -> dict of their non-null fields)."""
    schema = getattr(type(value), "schema", None)
    if isinstance(schema, Mapping):
        return {k: plain(getattr(value, k)) for k in schema if getattr(value, k, None) is not None}
    if isinstance(value, list | tuple):
        # pyignite collections come back as (type id, items)
        if len(value) == 2 and isinstance(value[0], int) and isinstance(value[1], list | tuple):
            return [plain(v) for v in value[1]]
        return [plain(v) for v in value]
    return value


def strip(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if doc is None else {k: v for k, v in doc.items() if v is not None and k != "id"}


def _pyignite_reads_objects_without_fields() -> None:
    """pyignite looks an object's schema up with ``if schema:``, so an object without fields
    (schema id 0: an empty document) gets the dict of every schema of its type and the scan fails
    with "'dict' object has no attribute 'schema'" (a flaky failure of the fuzz test, which stores
    empty documents now and then). Look id 0 up like any other id: a class without fields."""
    from collections import OrderedDict

    from pyignite import GenericObjectMeta  # type: ignore[import-untyped,unused-ignore]
    from pyignite.client import BaseClient  # type: ignore[import-untyped,unused-ignore]

    original = BaseClient._get_from_registry
    if getattr(original, "reads_empty_objects", False):
        return

    def lookup(self: Any, type_id: int, schema: Any) -> Any:
        if type(schema) is int and schema == 0:
            classes = self._registry.get(type_id)
            if classes is None:
                return None  # unknown type: query_binary_type fetches it and asks again
            if 0 not in classes:
                name = next((c.type_name for c in classes.values()), f"type{type_id}")
                classes[0] = GenericObjectMeta(name, (), {}, type_name=name, schema=OrderedDict())
            return classes[0]
        return original(self, type_id, schema)

    lookup.reads_empty_objects = True  # type: ignore[attr-defined]
    BaseClient._get_from_registry = lookup


_pyignite_reads_objects_without_fields()


async def ignite_docs(client: Any, cache: str) -> Docs:
    """Every entry of data cache ``cache`` as ``{id: fields}``, read with a pyignite scan."""
    c = await client.get_cache(cache)
    out: Docs = {}
    async with c.scan(page_size=1000) as cur:
        async for key, value in cur:
            doc = strip(plain(value))
            assert doc is not None
            out[str(key)] = doc
    return out


def model(client: HubClient, coll: str) -> Docs:
    """The live documents of a test client's local model (same normalisation as ignite_docs)."""
    out: Docs = {}
    for doc_id, doc in client.docs(coll).items():
        d = strip(doc)
        assert d is not None
        out[doc_id] = d
    return out


async def wait_for(
    predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 30.0, interval: float = 0.1
) -> None:
    """Poll ``predicate`` until true; TimeoutError after ``timeout`` seconds (a bound, not a check)."""
    deadline = time.monotonic() + timeout
    while True:
        res = predicate()
        if inspect.isawaitable(res):
            res = await res
        if res:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not reached within {timeout:g}s (awaited at {awaited_at()})")
        await asyncio.sleep(interval)


async def converge(
    aio: Any,
    cache: str,
    clients: Sequence[tuple[HubClient, str]],
    timeout: float = 60.0,
    *,
    read: Callable[[], Awaitable[Docs]] | None = None,
) -> Docs:
    """Wait until every (client, collection) model equals what Ignite holds (``read()``, by default
    a scan of data cache ``cache``); return that state. Ignite is re-read only once the clients
    have been quiet for a moment (a scan of 20,000 documents is not free). On timeout, fail with
    a diff summary."""
    reader = read or (lambda: ignite_docs(aio, cache))
    deadline = time.monotonic() + timeout
    state: Docs = {}
    while True:
        state = await reader()
        if all(model(c, coll) == state for c, coll in clients):
            return state
        if time.monotonic() > deadline:
            break
        # wait for the clients to go quiet (or a second to pass) before reading Ignite again
        quiet_since, seen = time.monotonic(), sum(len(c.received) for c, _ in clients)
        while time.monotonic() - quiet_since < 0.5 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            now_seen = sum(len(c.received) for c, _ in clients)
            if now_seen != seen:
                quiet_since, seen = time.monotonic(), now_seen
    for c, coll in clients:
        m = model(c, coll)
        missing = sorted(set(state) - set(m))[:5]
        extra = sorted(set(m) - set(state))[:5]
        differ = sorted(k for k in set(m) & set(state) if m[k] != state[k])[:5]
        assert m == state, (
            f"{c.client_id} did not converge in {timeout}s: {len(m)} docs vs {len(state)} in Ignite; "
            f"missing {missing} extra {extra} differ {[(k, m[k], state[k]) for k in differ]}"
        )
    return state


async def sub(
    c: HubClient, coll: str, cursor: list[Any] | None = None, timeout: float = 60.0
) -> dict[str, Any]:
    """``c.sub`` with a generous bound (a 20,000-document snapshot takes a while on 2 cores)."""
    before = len(c.synced.get(coll, []))
    await c.sub(coll, cursor, wait=False)
    await c.wait(lambda: len(c.synced.get(coll, [])) > before or c.close_code is not None, timeout)
    assert len(c.synced.get(coll, [])) > before, f"closed {c.close_code} {c.close_reason}"
    return c.synced[coll][-1]


class HubFactory:
    def __init__(self, tmp: Path, label: str) -> None:
        self.tmp = tmp
        self.label = label
        self.started: list[HubProcess] = []

    async def __call__(
        self,
        name: str,
        addresses: Sequence[tuple[str, int]],
        collections: Mapping[str, Mapping[str, Any]],
        *,
        start: bool = True,
        ignite: Mapping[str, Any] | None = None,
        wrap: Sequence[str] = (),
        clock_skew_s: int = 0,
        rooms: Mapping[str, Any] | None = None,
        **hub: Any,
    ) -> HubProcess:
        proc = HubProcess(
            f"{self.label}-{name}",
            addresses,
            collections,
            hub=hub,
            ignite=ignite,
            config_dir=self.tmp,
            wrap=wrap,
            clock_skew_s=clock_skew_s,
            rooms=rooms,
        )
        self.started.append(proc)
        if start:
            await proc.start()
        return proc

    def stop_all(self) -> None:
        for proc in self.started:
            proc.stop()


@pytest.fixture
def hubs(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[HubFactory]:
    label = request.node.name.replace("[", "-").replace("]", "").replace("test_", "", 1)[:40]
    factory = HubFactory(tmp_path, label)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture
async def clients() -> AsyncIterator[list[HubClient]]:
    """Register test clients here to have them closed at teardown."""
    made: list[HubClient] = []
    yield made
    for c in made:
        try:
            await asyncio.wait_for(c.close(), 5)
        except BaseException:
            pass
