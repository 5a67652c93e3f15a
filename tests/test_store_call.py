"""``Context.call`` (hub/store/ignite/tx.py): every Ignite operation of the store goes through it."""

from __future__ import annotations

import asyncio

import pytest

from hub.store.ignite.tx import Context


async def test_a_cancellation_is_never_swallowed_by_an_operation_that_completes_meanwhile() -> None:
    """A feed being stopped is cancelled while one of its many short operations completes. The
    cancellation must end the task: ``asyncio.wait_for`` (3.11) returned the operation's result
    instead, the task ran on and waited forever for its next event (hub shutdown hung)."""
    ctx = Context(client=object())
    loop = asyncio.get_running_loop()
    for _ in range(20):
        gate: asyncio.Future[None] = loop.create_future()
        parked = asyncio.Event()

        async def op(gate: asyncio.Future[None] = gate) -> int:
            await gate
            return 1

        async def task(parked: asyncio.Event = parked) -> None:
            await ctx.call(op)
            parked.set()
            await asyncio.sleep(3600)  # where a swallowed cancellation leaves it

        t = asyncio.create_task(task())
        for _ in range(3):
            await asyncio.sleep(0)  # t now waits inside call()
        gate.set_result(None)  # the operation completes ...
        t.cancel()  # ... as the cancellation arrives
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(5):
                await t
        assert not parked.is_set()
