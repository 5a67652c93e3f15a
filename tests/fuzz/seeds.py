"""Write the seed corpus of the fuzz targets: valid and nearly valid inputs that reach every message.

    .venv/bin/python tests/fuzz/seeds.py     # (re)writes tests/fuzz/corpus/<target>/seed-*

Coverage-guided fuzzing starts from these; inputs found later are added with ``run.py --merge``.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hub import codec
from tests.fuzz.targets import COLL, join_frames

CORPUS = Path(__file__).resolve().parent / "corpus"


def enc(obj: Any) -> bytes:
    return codec.encode(obj)


def mut(seq: int, **kw: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "coll": COLL,
        "id": f"d{seq % 3}",
        "op": "put",
        "doc": {"n": seq},
        "ts": 1000 + seq,
    } | kw


def frame_seeds() -> list[bytes]:
    hello = enc({"t": "hello", "v": [1], "client": "c1", "token": None, "now": 1_800_000_000_000})
    muts = [
        mut(1),
        mut(2, op="del", doc=None, base=5),
        mut(3, doc={"title": "x", "tags": ["a", "b"], "nested": {"k": [1, 2.5, None, True]}}),
        mut(4, coll="other"),
        mut(5, op="put", doc=None),
        mut(1),  # a replay
        {"seq": 0, "coll": COLL},
    ]
    ready = [
        enc({"t": "sub", "id": 1, "coll": COLL}),
        enc({"t": "sub", "id": 2, "coll": COLL, "cursor": ["e1", 42]}),
        enc({"t": "sub", "id": 3, "coll": "nope"}),
        enc({"t": "unsub", "coll": COLL}),
        enc({"t": "mut", "batch": muts}),
        enc({"t": "mut", "batch": [mut(9, ts=2**62)]}),
        enc({"t": "ping", "n": 3}),
        enc({"t": "pong", "n": 1}),
        enc({"t": "auth", "token": "abc"}),
        enc({"t": "what"}),
        enc([1, 2, 3]),
        b"\xc1",
        b"",
    ]
    seeds = [
        join_frames(0, [hello]),
        join_frames(4, [hello, *ready]),
        join_frames(0, [enc({"t": "hello", "v": [2], "client": "c"})]),
        join_frames(0, [enc({"t": "sub", "id": 1, "coll": COLL})]),
        join_frames(2 | 1, [enc({"t": "mut", "batch": muts})]),
    ]
    seeds += [join_frames(1, [f]) for f in ready]
    return seeds


def doc_seeds() -> list[bytes]:
    return [
        enc({"title": "x", "done": False}),
        enc({"a": {"b": {"c": {"d": [1, 2, {"e": None}]}}}}),
        enc({"big": "x" * 4000}),
        enc({"list": list(range(300))}),
        enc({"when": 1.5, "bytes": b"\x00\x01", "neg": -(2**63)}),
    ]


def main() -> None:
    for target, seeds in (("frames", frame_seeds()), ("stored_doc", doc_seeds())):
        d = CORPUS / target
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("seed-*"):
            old.unlink()
        for s in seeds:
            (d / f"seed-{hashlib.sha1(s).hexdigest()[:12]}").write_bytes(s)
        print(f"{target}: {len(seeds)} seeds in {d}")


if __name__ == "__main__":
    main()
