"""The chaos stack restarts an Ignite node that died outside a fault (a real node, SIGKILLed behind
the stack's back as a node halts on SEGMENTATION), and no longer counts it as running."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.chaos import stack as chaos_stack
from tests.chaos.stack import Stack
from tests.conftest import reserve_port_block

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_node_dead_outside_a_fault_is_seen_and_restarted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chaos_stack, "NODES", 1)
    block = reserve_port_block(1)
    stack = Stack(tmp_path)
    stack.cluster = block.cluster(
        tmp_path / "ignite", nodes=1, name="test-heal", heap_mb=256, region_max_mb=128
    )
    try:
        await asyncio.to_thread(stack.cluster.start)
        assert stack.nodes_up() and await stack.heal() == []
        pid = stack.cluster.node_pid(0)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):  # gone once the process is reaped or no longer owned
            if not stack.nodes_up():
                break
            await asyncio.sleep(0.1)
        assert not stack.nodes_up()
        assert await stack.heal() == ["node 0"]
        assert stack.nodes_up() and stack.cluster.node_pid(0) not in (None, pid)
        stack.down_nodes.add(0)  # a restart the stack itself has pending is left to it
        os.kill(stack.cluster.node_pid(0) or 0, signal.SIGKILL)
        await asyncio.sleep(1)
        assert await stack.heal() == []
    finally:
        await asyncio.to_thread(stack.cluster.stop)
        block.release()
