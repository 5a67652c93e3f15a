"""The repository as committed: no file holds what a merge left unresolved."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NL = b"\n"
MARKER = re.compile(rb"^(<{7} |={7}$|>{7} )", re.M)


def test_no_merge_conflict_markers_are_committed() -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout.split(
        b"\0"
    )
    found = []
    for name in filter(None, files):
        path = REPO / name.decode()
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        for m in MARKER.finditer(data):
            found.append(f"{name.decode()}:{data.count(NL, 0, m.start()) + 1}")
    assert not found, f"merge-conflict markers: {found}"
