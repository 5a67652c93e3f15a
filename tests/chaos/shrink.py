"""Shrink a failing schedule to a small one that still fails (delta debugging over its steps).

Faults depend on timing, so a candidate "still fails" when one run of it shows a violation of the
same kind as the original (the first words of the first violation); the budget bounds the runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.chaos.schedule import Schedule, Step

Run = Callable[[Schedule], Awaitable[list[str]]]


def kind(violation: str) -> str:
    """A violation's kind: what it says without the names and numbers that vary between runs."""
    words = [w for w in violation.replace(":", " ").split() if not any(ch.isdigit() for ch in w)]
    return " ".join(words[:6])


async def shrink(sched: Schedule, first: list[str], run: Run, budget: int = 40) -> tuple[Schedule, list[str]]:
    want = {kind(v) for v in first}
    steps = list(sched.steps)
    best = first
    attempt = 0
    chunks = 2

    async def fails(candidate: list[Step]) -> list[str] | None:
        nonlocal attempt
        attempt += 1
        got = await run(sched.variant(candidate, f"x{attempt}"))
        return got if want & {kind(v) for v in got} else None

    # ddmin: try to drop each of `chunks` slices; on success keep the smaller schedule
    while len(steps) > 1 and attempt < budget:
        size = max(1, len(steps) // chunks)
        reduced = False
        for start in range(0, len(steps), size):
            if attempt >= budget:
                break
            candidate = steps[:start] + steps[start + size :]
            if not candidate:
                continue
            got = await fails(candidate)
            if got is not None:
                steps, best, reduced = candidate, got, True
                chunks = max(chunks - 1, 2)
                break
        if not reduced:
            if size == 1:
                break
            chunks = min(len(steps), chunks * 2)
    return sched.variant(steps, ""), best
