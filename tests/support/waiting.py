"""Where a test is waiting: failure messages of bounded waits name the test line that awaited."""

from __future__ import annotations

import sys
from pathlib import Path

_SUPPORT = {str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1] / "conftest.py")}


def awaited_at() -> str:
    """``file:line`` of the innermost caller outside ``tests/support`` and the conftest helpers."""
    frame = sys._getframe(1)
    while frame is not None:
        path = frame.f_code.co_filename
        if not any(path.startswith(p) for p in _SUPPORT) and not path.endswith("conftest.py"):
            return f"{Path(path).name}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "?"
