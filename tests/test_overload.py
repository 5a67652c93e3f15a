"""``[hub] overload_lag_ms``: a hub whose event loop runs late refuses new connections (4532) and
keeps serving the clients it has (hub/server/hub.py, hub/looplag.py)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import websockets

from hub.looplag import loop_lag
from tests.support.wsclient import HubClient
from tests.test_ws import hub_running


async def _hog(stop: asyncio.Event) -> None:
    """Starve the loop: block it 0.3 s at a time (a fan-out bigger than the process)."""
    while not stop.is_set():
        time.sleep(0.3)
        await asyncio.sleep(0)


async def _overload_refusals(http: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(http + "/metrics")).text
    for line in text.splitlines():
        if line.startswith('synchub_rate_limited_total{kind="overload"}'):
            return float(line.split()[-1])
    return 0.0


async def _connect_retrying(url: str, client_id: str) -> HubClient:
    """Connect as the browser client does: 4532 asks for a retry. (A machine loaded by other
    processes makes timers late too, and in this test process the loop also stands still between
    tests: either can make the hub refuse a first attempt.)"""
    deadline = time.monotonic() + 30
    while True:
        c = HubClient(url, client_id=client_id)
        # refused: closed before its welcome (or before its hello went out)
        with contextlib.suppress(AssertionError, websockets.ConnectionClosed):
            await c.connect()
        if c.welcome is not None:
            return c
        await c.close()
        assert c.close_code == 4532 and time.monotonic() < deadline
        await asyncio.sleep(0.5)


async def test_a_starved_hub_refuses_new_connections_and_serves_its_clients() -> None:
    async with hub_running(overload_lag_ms=150) as h:
        served = await _connect_retrying(h.url, "served")
        try:
            await served.sub("todos")
            stop = asyncio.Event()
            hog = asyncio.create_task(_hog(stop))
            try:
                deadline = time.monotonic() + 20
                while loop_lag().late_now() <= 0.15 and time.monotonic() < deadline:
                    await asyncio.sleep(0)
                assert loop_lag().late_now() > 0.15
                newcomer = HubClient(h.url, client_id="newcomer")
                await newcomer.open()
                assert await newcomer.wait_closed(20) == 4532
                assert newcomer.close_reason == "hub overloaded, retry later"
                await newcomer.close()
                # the client it has is still served: a write goes through and is acknowledged
                assert (await served.mut([served.put_op("todos", "t1", {"x": 1})], 20))[0]["s"] == "ok"
                await served.wait(lambda: "t1" in served.docs("todos"), 20)  # and pushed to it
            finally:
                stop.set()
                await hog
        finally:
            await served.close()
        # on time again, a client retrying gets in
        later = await _connect_retrying(h.url, "later")
        assert later.welcome is not None
        await later.close()
        assert await _overload_refusals(h.run.http) >= 1


async def test_off_by_default() -> None:
    async with hub_running() as h:
        loop_lag().recent = 10.0  # as if the loop ran 10 s late (it decays from here, tick by tick)
        async with h.client(client_id="while-late") as c:
            assert c.welcome is not None
        assert await _overload_refusals(h.run.http) == 0
