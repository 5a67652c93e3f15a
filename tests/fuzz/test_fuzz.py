"""The fuzz targets in CI: every corpus input replayed, then a short coverage-guided run per target.

The long profile (100,000 inputs per target) is ``make fuzz``; results in docs/reliability.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz import targets

HERE = Path(__file__).resolve().parent
QUICK_RUNS = 30_000


def corpus(target: str) -> list[Path]:
    return sorted((HERE / "corpus" / target).iterdir())


@pytest.mark.parametrize("target", sorted(targets.TARGETS))
def test_every_corpus_input_is_answered_as_documented(target: str) -> None:
    files = corpus(target)
    assert files, f"no corpus for {target}: run tests/fuzz/seeds.py"
    for f in files:
        try:
            targets.replay(target, f.read_bytes())
        except Exception as exc:
            raise AssertionError(f"{f.name}: {exc!r}") from exc


def test_a_session_that_breaks_the_protocol_ends_with_its_documented_code() -> None:
    """The target's checks can fail: a frame before hello closes 4003, which the target accepts,
    and an internal error (4510) is a finding."""
    hub = targets._Hub(0)
    hub.frame(targets.codec.encode({"t": "ping", "n": 1}))
    assert hub.closed == 4003
    with pytest.raises(targets.Finding):
        hub.effects([targets.Close(4510, "internal error: KeyError")])


@pytest.mark.parametrize("target", sorted(targets.TARGETS))
def test_a_short_coverage_guided_run_finds_nothing(target: str, tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(HERE / "run.py"), target, "--runs", str(QUICK_RUNS), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    tail = (out.stdout + out.stderr)[-3000:]
    assert out.returncode == 0, tail
    assert f"Done {QUICK_RUNS} runs" in out.stderr, tail
