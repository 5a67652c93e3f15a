"""Graceful SIGTERM of a real ``synchub serve`` process during a mutation batch, and its logs.

The batch is one Ignite transaction: after the hub is gone it is either fully stored and
acknowledged (or acknowledgeable by a replay), or not stored at all and replayable — never half
applied. The hub closes the connection with 4500 and exits by itself within its deadline."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import pytest
from pyignite import AioClient

from hub.core.errors import CloseCode
from tests.support.acl import SECRET, fresh, token
from tests.support.hubproc import HubProcess
from tests.support.wsclient import HubClient

pytestmark = pytest.mark.timeout(180)

BATCH = 500
DEADLINE_MS = 6000


def toml(addresses: list[tuple[str, int]], coll: str) -> str:
    addrs = ", ".join(f'"{h}:{p}"' for h, p in addresses)
    return f"""
[hub]
host = "127.0.0.1"
workers = 1
max_batch = {BATCH}
shutdown_deadline_ms = {DEADLINE_MS}
log_level = "INFO"

[ignite]
addresses = [{addrs}]

[auth]
mode = "jwt"
algorithms = ["HS256"]
secret = "{SECRET}"
audience = "synchub"

[collections.{coll}]
policy = "lww"

[collections.{coll}.access]
read = ["authenticated"]
write = ["authenticated"]
"""


async def stored(addresses: list[tuple[str, int]], cache: str) -> int:
    client = AioClient()
    await client.connect(addresses)
    try:
        return int(await (await client.get_cache(cache)).get_size())
    finally:
        await client.close()


def process(tmp: Path, name: str, addresses: list[tuple[str, int]], coll: str) -> HubProcess:
    proc = HubProcess(name, addresses, {}, config_dir=tmp)
    proc.config_path.write_text(toml(addresses, coll))
    return proc


async def test_sigterm_during_a_batch(ignite_addresses: list[tuple[str, int]], tmp_path: Path) -> None:
    coll = fresh("term")
    tok = token("alice")
    first = process(tmp_path, f"term1-{coll}", ignite_addresses, coll)
    second = process(tmp_path, f"term2-{coll}", ignite_addresses, coll)
    try:
        await first.start()
        c = HubClient(first.url, client_id="c-term", token=tok)
        await c.connect()
        await c.sub(coll)
        batch = [c.put_op(coll, f"d{i:03}", {"i": i, "pad": "x" * 200}) for i in range(BATCH)]
        await c.send({"t": "mut", "batch": batch})
        await asyncio.sleep(0.02)  # the batch is being applied
        t0 = time.monotonic()
        assert first.proc is not None
        first.proc.send_signal(signal.SIGTERM)
        assert await c.wait_closed(DEADLINE_MS / 1000 + 5) == CloseCode.GOING_AWAY
        acked = [r for r in c.received if r["t"] == "ack"]
        await c.close()
        code = await asyncio.to_thread(first.proc.wait, DEADLINE_MS / 1000 + 5)
        assert code == 0
        assert time.monotonic() - t0 < DEADLINE_MS / 1000 + 2
        n = await stored(ignite_addresses, coll)
        assert n in (0, BATCH), f"half-applied batch: {n} of {BATCH}"
        if acked:
            assert n == BATCH and all(r["s"] == "ok" for r in acked[0]["results"])

        # the client replays the batch (same seqs) on another hub
        await second.start()
        c2 = HubClient(second.url, client_id="c-term", token=tok)
        await c2.connect()
        results = await c2.mut(batch, timeout=30)
        await c2.close()
        assert len(results) == BATCH and all(r["s"] == "ok" for r in results)
        assert all(r.get("dup", False) == (n == BATCH) for r in results)
        assert await stored(ignite_addresses, coll) == BATCH
    finally:
        first.stop()
        second.stop()

    # structured JSON logs with a connection id; never the token
    text = first.log_path.read_text()
    assert tok not in text and tok.split(".")[2] not in text
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    accepted = [r for r in records if r["msg"] == "connection accepted"]
    assert accepted and all(len(r["conn"]) == 12 for r in accepted)
    closed = [r for r in records if r["msg"] == "connection closed"]
    assert any(r["code"] == CloseCode.GOING_AWAY and r["conn"] == accepted[0]["conn"] for r in closed)
    assert any(r["msg"] == "authenticated" and r.get("user") == "alice" for r in records)
