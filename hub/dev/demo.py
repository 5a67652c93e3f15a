"""Development helpers for ``synchub dev``: the demo config, a demo merge hook and an external
writer that updates the ``metrics`` cache directly through pyignite (not through the hub), the way
another application would, so the demo dashboard moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from hub.config import Config, HubSettings
from hub.core.conflict import MergeContext, Policy
from hub.core.types import CollectionSpec
from hub.igniteconfig import IgniteSettings

log = logging.getLogger(__name__)

Doc = Mapping[str, Any]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def merge_union_max(current: Doc | None, incoming: Doc | None, ctx: MergeContext) -> Doc | None:
    """Demo merge hook, deterministic: a delete wins; list fields are unioned (current items first,
    then new ones in order); numeric fields keep the maximum; other fields take the incoming value;
    fields only the stored document has are kept."""
    if incoming is None or current is None:
        return None if incoming is None else dict(incoming)
    out: dict[str, Any] = dict(current)
    for key, new in incoming.items():
        old = current.get(key)
        if isinstance(old, list) and isinstance(new, list):
            out[key] = old + [item for item in new if item not in old]
        elif _is_number(old) and _is_number(new):
            out[key] = max(old, new)
        else:
            out[key] = new
    return out


def dev_config(addresses: Sequence[tuple[str, int]], host: str = "127.0.0.1", port: int = 8000) -> Config:
    """The ``synchub dev`` configuration: four demo collections (and ``bench`` for the client
    benchmark), dev auth."""
    return Config(
        hub=HubSettings(host=host, port=port, dev_auth=True),
        ignite=IgniteSettings(tuple(addresses)),
        collections=(
            CollectionSpec("todos", policy=Policy.LWW),
            CollectionSpec("stale", policy=Policy.REJECT_IF_STALE),
            CollectionSpec("merged", policy=Policy.MERGE, merge=merge_union_max),
            CollectionSpec("metrics", writable=False),
            CollectionSpec("bench", policy=Policy.LWW),  # client-js/bench/offline-replay.mjs
        ),
    )


def metric_values(t: float) -> dict[str, dict[str, Any]]:
    """Smoothly moving demo values at time ``t`` (seconds)."""
    return {
        "cpu": {"name": "cpu", "value": round(50 + 40 * math.sin(t / 7), 2), "unit": "%"},
        "mem": {"name": "mem", "value": round(2048 + 512 * math.sin(t / 13), 1), "unit": "MiB"},
        "rps": {"name": "rps", "value": int(300 + 250 * abs(math.sin(t / 5))), "unit": "req/s"},
    }


async def metrics_writer(
    addresses: Sequence[tuple[str, int]],
    spec: CollectionSpec,
    interval: float = 1.0,
    ready_timeout: float = 60.0,
) -> None:
    """Every ``interval`` seconds, put the ``cpu``/``mem``/``rps`` documents into the collection's
    cache with pyignite, bypassing the hub. Runs until cancelled; store errors are logged and retried."""
    from pyignite import AioClient

    from hub.store.ignite.values import ValueType

    client = AioClient()
    await client.connect(list(addresses))
    try:
        deadline = time.monotonic() + ready_timeout
        while spec.cache_name not in set(await client.get_cache_names()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"cache {spec.cache_name!r} never appeared")
            await asyncio.sleep(0.5)
        cache = await client.get_cache(spec.cache_name)
        vtype = await ValueType.load(client, spec.type_name)
        while True:
            try:
                for key, doc in metric_values(time.time()).items():
                    obj, _ = vtype.encode(doc)
                    await cache.put(key, obj)
            except Exception as exc:  # keep the demo running through hiccups
                log.warning("metrics writer: %s", exc)
            await asyncio.sleep(interval)
    finally:
        with contextlib.suppress(Exception):
            await client.close()
