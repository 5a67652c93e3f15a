"""hub/server/flag.py: the asyncio.Event contract without the up-front waiter deque."""

from __future__ import annotations

import asyncio

from hub.server.flag import Flag


async def test_wait_returns_once_set_and_at_once_while_set() -> None:
    f = Flag()
    assert not f.is_set()
    waiter = asyncio.create_task(f.wait())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    f.set()
    await asyncio.wait_for(waiter, 1)
    assert f.is_set()
    await asyncio.wait_for(f.wait(), 1)  # already set: no waiting
    f.clear()
    again = asyncio.create_task(f.wait())
    await asyncio.sleep(0.01)
    assert not again.done()  # cleared: waits again
    f.set()
    await asyncio.wait_for(again, 1)


async def test_set_wakes_every_waiter_and_a_cancelled_one_leaves_the_others() -> None:
    f = Flag()
    waiters = [asyncio.create_task(f.wait()) for _ in range(3)]
    await asyncio.sleep(0.01)
    waiters[0].cancel()
    await asyncio.sleep(0.01)
    assert waiters[0].cancelled() and not waiters[1].done()
    f.set()
    await asyncio.wait_for(asyncio.gather(*waiters[1:]), 1)
