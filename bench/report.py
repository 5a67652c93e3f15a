"""Write the results of ``make bench`` into docs/benchmarks.md (the part between the two markers).

    .venv/bin/python -m bench.report            # after the benchmarks' full profiles ran

Each benchmark leaves ``table.md`` (machine, command, medians) and maybe a PNG under
``test-artifacts/bench/<name>/full/``; this copies the PNGs to ``docs/img/bench-<name>.png`` and
replaces the text between ``<!-- make bench: begin -->`` and ``<!-- make bench: end -->`` with one
section per benchmark, in the order of :data:`SECTIONS`. A benchmark without results is listed as
not run, so a stale table is never left standing beside fresh ones.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"
BEGIN, END = "<!-- make bench: begin -->", "<!-- make bench: end -->"

#: (directory under test-artifacts/bench, title, what it measures and its target)
SECTIONS = [
    (
        "fanout",
        "Fan-out, side by side with Centrifugo v6 (bench/fanout.py)",
        "Delivered events/s and payload-to-receipt latency for N subscribers of one collection (synchub) "
        "or channel (Centrifugo), one publisher in batches of 10. Target (issue 13): ≥ 200k events/s per "
        "box and not behind Centrifugo per CPU-second.",
    ),
    (
        "push",
        "Push latency of external writes (bench/push.py)",
        "A put by another Ignite client -> receipt at the hub's subscribers, beside a raw continuous-query "
        "listener on the same cache. Target: p99 ≤ 20 ms, p50 ≤ 1.5x the baseline's.",
    ),
    (
        "ingest",
        "Ingest (bench/ingest.py)",
        "Client mutations/s applied to Ignite (write rule, dedup, ack) through one hub process and through "
        "the box, beside one REST request per record. Target: ≥ 20k mutations/s and ≥ 10x the REST baseline.",
    ),
    (
        "presence",
        "Presence across two hubs (bench/presence.py)",
        "Join/update seen by the other members of a room, same hub and across hubs. Target (issue 12): p99 "
        "≤ 100 ms at 1,000 members in 100 rooms.",
    ),
    (
        "subsets",
        "Query subscriptions (bench/subsets.py)",
        "First sync and catch-up of a subset beside the whole collection; hub CPU per change with 10,000 "
        "query subscribers over 1,000 filters beside 10 whole-collection subscribers. Targets (issue 12): "
        "1,000-document subset of 1,000,000 in ≤ 0.5 s; catch-up proportional to the subset's changes; "
        "cost per change within 2x.",
    ),
    (
        "catchup",
        "Catch-up, first sync and connection storm (bench/catchup.py)",
        "A client offline while 10,000 documents of 100,000 and of 1,000,000 changed: reconnect -> "
        "`synced`; a first sync of 100,000 documents into the JS client's store (Node + fake-indexeddb, "
        "and Chromium); "
        "1,000 clients subscribing at once to a 1,000-document collection after a hub restart. Targets "
        "(issue 13): catch-up ≤ 1 s and the 1,000,000 case within 1.2x of the 100,000 case; first sync "
        "≥ 50,000 documents/s; the storm all `synced` ≤ 3 s.",
    ),
    (
        "memory",
        "Memory per idle connection (bench/memory.py)",
        "Hub RSS before and after 10,000 idle, subscribed connections (one hub process, clients over "
        "127.0.0.x), divided by the connections. Target (issue 13): ≤ 20 KiB per connection.",
    ),
    (
        "scaleout",
        "Scale-out: two hub processes beside one (bench/scaleout.py)",
        "Fan-out (delivered events/s) and ingest (mutations/s) through two independent hubs on the same "
        "Ignite node, the load split between their URLs, beside one hub with the whole load; the ratio.",
    ),
]


def render(profile: str) -> str:
    out = [
        BEGIN,
        "",
        f"Written by `python -m bench.report` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.",
        "",
    ]
    for name, title, about in SECTIONS:
        out += [f"### {title}", "", about, ""]
        src = REPO / "test-artifacts" / "bench" / name / profile
        table = src / "table.md"
        if not table.exists():
            out += ["Not run.", ""]
            continue
        out += [table.read_text().strip(), ""]
        for png in sorted(src.glob("*.png")):
            dest = REPO / "docs" / "img" / f"bench-{name}.png"
            shutil.copyfile(png, dest)
            out += [f"![{title}](img/{dest.name})", ""]
    out.append(END)
    return "\n".join(out)


def main() -> int:
    profile = sys.argv[1] if len(sys.argv) > 1 else "full"
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        print(f"{DOC}: markers {BEGIN} / {END} not found", file=sys.stderr)
        return 1
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(head + render(profile) + tail)
    print(f"{DOC} updated from test-artifacts/bench/*/{profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
