"""``[hub] python_gc = "freeze"`` (hub/gcpolicy.py): survivors of full collections leave the
collector's walk; a periodic thaw lets one full collection free the cycles among them."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from hub.config import parse_config
from hub.core.errors import HubUsageError
from hub.gcpolicy import FrozenGc


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    yield
    gc.unfreeze()  # this test process must not keep objects out of its own collector


async def test_survivors_of_a_full_collection_are_frozen_and_a_thaw_frees_their_cycles() -> None:
    loop = asyncio.get_running_loop()
    # the thaw is run by hand below: a timer short enough to wait for could fire early on a
    # loaded machine, before the frozen garbage is checked
    policy = FrozenGc(loop, thaw_every_s=3600)
    policy.start()
    try:
        assert policy._timer is not None and policy._timer.when() - loop.time() > 3500
        assert gc.get_freeze_count() > 0  # what existed at start
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        gc.collect(2)  # a and b survive (still referenced): frozen on the loop's next turn
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert policy.freezes == 1
        del a, b  # a cycle, garbage now, among frozen objects
        gc.collect(2)
        assert gone() is not None  # out of the collector's sight until the thaw
        policy._timer.cancel()
        policy._thaw()  # what the timer runs
        assert policy.thaws == 1
        # freed by the thaw itself: an idle process makes no full collection of its own (before,
        # a burst's closed connections stayed until enough new objects survived)
        assert gone() is None
    finally:
        policy.stop()
    assert policy._collected not in gc.callbacks


async def test_only_full_collections_freeze() -> None:
    policy = FrozenGc(asyncio.get_running_loop(), thaw_every_s=60)
    policy.start()
    try:
        gc.collect(0)
        gc.collect(1)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert policy.freezes == 0
    finally:
        policy.stop()


def test_python_gc_setting_is_checked() -> None:
    assert parse_config({}, {}, "t").hub.python_gc == "freeze"
    assert parse_config({"hub": {"python_gc": "default"}}, {}, "t").hub.python_gc == "default"
    with pytest.raises(HubUsageError, match="python_gc"):
        parse_config({"hub": {"python_gc": "off"}}, {}, "t")
