"""Write the results of ``make bench`` into docs/benchmarks.md, each table between its own markers.

    .venv/bin/python -m bench.report            # after the benchmarks' full profiles ran
    .venv/bin/python -m bench.report quick      # the quick profiles' tables instead

Each benchmark leaves ``table.md`` (machine, command, medians) and maybe a PNG under
``test-artifacts/bench/<name>/<profile>/``. For every benchmark of :data:`SECTIONS` that left one,
this copies the PNG to ``docs/img/bench-<name>.png`` and replaces the text between
``<!-- bench:<name> begin -->`` and ``<!-- bench:<name> end -->`` with the table (its machine line
names the commit) and the time it finished. Everything outside the markers (readings, earlier runs,
profiles) is written by hand and kept, and a benchmark that did not run keeps its last table, whose
stamp says how old it is: one ``make bench`` part can be re-run without wiping the others.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} begin -->", f"<!-- bench:{name} end -->"


#: (directory under test-artifacts/bench and marker name, title of its section in the doc)
SECTIONS = [
    ("fanout", "Fan-out, side by side with Centrifugo v6 (bench/fanout.py)"),
    ("push", "Push latency of external writes (bench/push.py)"),
    ("ingest", "Ingest (bench/ingest.py)"),
    ("presence", "Presence across two hubs (bench/presence.py)"),
    ("subsets", "Query subscriptions (bench/subsets.py)"),
    ("catchup", "Catch-up, first sync and connection storm (bench/catchup.py)"),
    ("memory", "Memory per idle connection (bench/memory.py)"),
    ("scaleout", "Scale-out: two hub processes beside one (bench/scaleout.py)"),
]


def block(name: str, title: str, table: Path, images: Path) -> str:
    """The section's text between its markers, markers included; copies its plots into ``images``."""
    when = dt.datetime.fromtimestamp(table.stat().st_mtime, dt.UTC)
    begin, end = markers(name)
    lines = [
        begin,
        f"Measured by `make bench` ({table.parent.name} profile), finished {when:%Y-%m-%d %H:%M} UTC.",
        "",
        table.read_text().strip(),
    ]
    pngs = sorted(table.parent.glob("*.png"))
    for png in pngs:
        dest = images / (f"bench-{name}.png" if len(pngs) == 1 else f"bench-{name}-{png.stem}.png")
        shutil.copyfile(png, dest)
        lines += ["", f"![{title}](img/{dest.name})"]
    return "\n".join([*lines, end])


def update(text: str, artifacts: Path, images: Path, profile: str) -> tuple[str, list[str]]:
    """``text`` with each measured section's block replaced; the names of those replaced.

    Raises ``ValueError`` when a section's markers are missing or out of order, so a table is never
    appended somewhere a reader would not look.
    """
    replaced = []
    for name, title in SECTIONS:
        begin, end = markers(name)
        i, j = text.find(begin), text.find(end)
        if i < 0 or j < i:
            raise ValueError(f"markers {begin} / {end} missing or out of order")
        table = artifacts / name / profile / "table.md"
        if not table.exists():
            continue
        text = text[:i] + block(name, title, table, images) + text[j + len(end) :]
        replaced.append(name)
    return text, replaced


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    profile = args[0] if args else "full"
    try:
        text, replaced = update(
            DOC.read_text(), REPO / "test-artifacts" / "bench", DOC.parent / "img", profile
        )
    except ValueError as exc:
        print(f"{DOC}: {exc}", file=sys.stderr)
        return 1
    DOC.write_text(text)
    kept = [name for name, _ in SECTIONS if name not in replaced]
    print(f"{DOC}: updated {', '.join(replaced) or 'nothing'} from test-artifacts/bench/*/{profile}")
    if kept:
        print(f"  not run, last tables kept: {', '.join(kept)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
