"""The quick profile of the chaos suite (docs/reliability.md): 50 seeded schedules of writes and
faults on a real stack (two Ignite nodes, two hub processes, JavaScript clients), each checked
for lost, doubled, resurrected and unreported writes and for replicas that differ from Ignite;
then two schedules of the ``restart`` profile, each restarting the whole (in-memory) cluster amid
the writes, on the same stack (last: a restart empties the collections every schedule shares).

``CHAOS_SCHEDULES``, ``CHAOS_RESTARTS`` and ``CHAOS_SEED`` change the run; the long profile is
``python -m tests.chaos.run --profile long`` (``make chaos``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.chaos.run import run_many
from tests.chaos.schedule import QUICK, RESTART, generate

pytestmark = pytest.mark.asyncio(loop_scope="session")

SCHEDULES = int(os.environ.get("CHAOS_SCHEDULES", "50"))
RESTARTS = int(os.environ.get("CHAOS_RESTARTS", "2"))
SEED = int(os.environ.get("CHAOS_SEED", "1"))


@pytest.mark.timeout(1800)
async def test_chaos_quick_profile(tmp_path: Path) -> None:
    schedules = [generate(SEED, i, QUICK) for i in range(SCHEDULES)]
    schedules += [generate(SEED, i, RESTART) for i in range(RESTARTS)]
    lines: list[str] = []
    tally = await run_many(schedules, shrink_budget=0, tmp=tmp_path, log=lines.append)
    summary = tally.summary()
    print("\n".join(lines))
    print(json.dumps({k: v for k, v in summary.items() if k != "failures"}))
    assert tally.schedules == SCHEDULES + RESTARTS
    assert sum(tally.faults.values()) >= SCHEDULES, "the schedules injected too few faults to mean much"
    assert tally.faults["restart_cluster"] == RESTARTS
    assert not tally.failed, "\n".join(
        f"schedule {f['seed']}/{f['index']}: {'; '.join(f['violations'][:5])}\n  replay: {f['replay']}"
        for f in tally.failed
    )
