"""Coverage-guided fuzzing of the hub's input path (atheris, i.e. libFuzzer over Python coverage).

    .venv/bin/python tests/fuzz/run.py frames [--runs 100000] [--seed 1] [--max-time 0] [--out DIR]
    .venv/bin/python tests/fuzz/run.py stored_doc ...
    .venv/bin/python tests/fuzz/run.py frames --replay FILE      # one input, with its traceback
    .venv/bin/python tests/fuzz/run.py frames --merge DIR        # keep DIR's new coverage in the corpus

Targets and what each checks: ``tests/fuzz/targets.py``. The seeds are ``tests/fuzz/corpus/<target>/``
(``seeds.py`` writes them); inputs the run finds interesting go to ``--out`` (a scratch directory by
default), where libFuzzer keeps only inputs that added coverage; ``--merge`` copies them into the corpus.
A failing input is written to ``test-artifacts/fuzz/<target>-crash-<sha1>`` and the run exits
non-zero; replay it with ``--replay``. Every input is bounded: 5 s (a hang is a failure) and 2 GiB of RSS.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import atheris  # type: ignore[import-not-found,unused-ignore]  # noqa: E402

with atheris.instrument_imports(include=["hub", "msgpack", "tests.fuzz"]):
    from tests.fuzz import targets

CORPUS = Path(__file__).resolve().parent / "corpus"
ARTIFACTS = ROOT / "test-artifacts" / "fuzz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("target", choices=sorted(targets.TARGETS))
    ap.add_argument("--runs", type=int, default=100_000, help="inputs to run (libFuzzer -runs)")
    ap.add_argument("--seed", type=int, default=1, help="libFuzzer -seed: the same seed, the same run")
    ap.add_argument("--max-time", type=int, default=0, help="stop after this many seconds (0: no limit)")
    ap.add_argument("--out", type=Path, help="where new interesting inputs go (default: a scratch dir)")
    ap.add_argument("--merge", type=Path, help="add a run's --out directory to the corpus")
    ap.add_argument("--replay", type=Path, help="run one input file and print what it raises")
    args = ap.parse_args()

    if args.replay is not None:
        targets.replay(args.target, args.replay.read_bytes())
        print(f"{args.replay}: no finding")
        return

    seeds = CORPUS / args.target
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def one(data: bytes) -> None:
        targets.replay(args.target, data)

    if args.merge is not None:
        # libFuzzer's own -merge re-runs argv[0] as a binary, which a script is not: the run's output
        # directory already holds only inputs that added coverage (reduced ones replace their
        # originals), so they are copied in, named by content as libFuzzer names them.
        added = 0
        for f in sorted(args.merge.iterdir()):
            data = f.read_bytes()
            name = seeds / hashlib.sha1(data).hexdigest()
            if f.is_file() and not name.exists() and len(data) <= 8192:
                name.write_bytes(data)
                added += 1
        print(f"{added} inputs added to {seeds}")
        return
    out = args.out or Path(tempfile.mkdtemp(prefix=f"fuzz-{args.target}-"))
    out.mkdir(parents=True, exist_ok=True)
    flags = [
        f"-runs={args.runs}",
        f"-seed={args.seed}",
        f"-max_total_time={args.max_time}",
        "-timeout=5",
        "-rss_limit_mb=2048",
        "-max_len=8192",
        "-print_final_stats=1",
        f"-artifact_prefix={ARTIFACTS}/{args.target}-",
    ]
    print(
        f"fuzz {args.target}: seed {args.seed}, {args.runs} runs, new inputs in {out}; replay a finding:\n"
        f"  .venv/bin/python tests/fuzz/run.py {args.target} --replay <file>",
        flush=True,
    )
    atheris.Setup([sys.argv[0], *flags, str(out), str(seeds)], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
