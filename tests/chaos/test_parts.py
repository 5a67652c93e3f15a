"""The chaos suite's own parts, without a stack: the generator is a pure function of its seed,
the checker catches each kind of violation it claims to, shrinking keeps a failing core."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from tests.chaos.checker import ClientView, Observed, check
from tests.chaos.schedule import CLIENTS, LONG, QUICK, Schedule, generate
from tests.chaos.shrink import shrink


def test_generation_is_reproducible_and_varied() -> None:
    a = [generate(3, i, QUICK).steps for i in range(20)]
    assert a == [generate(3, i, QUICK).steps for i in range(20)]
    assert a != [generate(4, i, QUICK).steps for i in range(20)]
    kinds = {s["k"] for steps in a for s in steps}
    assert {"put", "del", "append", "inc", "own", "ext_put", "offline", "online", "reload", "cut"} <= kinds
    assert any(s["k"] in ("kill_hub", "term_hub", "pause_hub") for steps in a for s in steps)
    long = [generate(3, i, LONG) for i in range(60)]
    assert any(s["k"] == "kill_node" for sc in long for s in sc.steps)
    # every writer and nemesis shows up in a quick run of 50 schedules
    quick = {s["k"] for i in range(50) for s in generate(1, i, QUICK).steps}
    writers = {"node_put", "node_del", "sql_merge", "sql_update", "sql_delete", "ext_ttl", "ext_team"}
    assert writers | {"slow", "stall", "tear", "refresh"} <= quick
    assert any(s["k"] == "put" and s["coll"] == "sql" for i in range(50) for s in generate(1, i, QUICK).steps)
    sched = generate(3, 0, QUICK)
    assert Schedule.from_json(sched.to_json()).steps == sched.steps


def test_every_offline_client_comes_back_and_every_tomb_is_deleted() -> None:
    for i in range(100):
        steps = generate(9, i, LONG).steps
        offline = set()
        for s in steps:
            if s["k"] == "offline":
                offline.add(s["c"])
            elif s["k"] == "online":
                offline.discard(s["c"])
        assert not offline
        puts = {s["id"] for s in steps if s["k"] == "put" and s["id"].startswith("t")}
        dels = {s["id"] for s in steps if s["k"] == "del" and s["id"].startswith("t")}
        assert puts == dels


def _healthy() -> Observed:
    p = "s1-0"
    ledger = {f"{p}.k0": {"n": 2, "log": [f"{p}:c1:1", f"{p}:c2:2"]}}
    rts = {f"{p}.r0": {"v": 2, "by": "c2", "hist": [1, 2]}}
    own = {f"{p}.o0": {"owner": "alice", "v": 5, "by": "c1"}, f"{p}.o1": {"owner": "bob", "v": 6, "by": "c2"}}
    lww = {f"{p}.h0": {"v": 3, "by": "ext"}}
    ignite = {"lww": lww, "rts": rts, "ledger": ledger, "own": own}
    issued: list[dict[str, Any]] = [
        {"k": "inc", "c": "c1", "coll": "ledger", "id": "k0", "op": 1},
        {"k": "inc", "c": "c2", "coll": "ledger", "id": "k0", "op": 2},
        {"k": "append", "c": "c1", "coll": "rts", "id": "r0", "v": 1},
        {"k": "append", "c": "c2", "coll": "rts", "id": "r0", "v": 2},
        {"k": "append", "c": "c3", "coll": "rts", "id": "r0", "v": 4},
        {"k": "put", "c": "c1", "coll": "lww", "id": "t1", "v": 7},
        {"k": "del", "c": "c1", "coll": "lww", "id": "t1"},
    ]
    clients = {}
    for c, (user, _) in CLIENTS.items():
        docs = {k: {i: dict(d) for i, d in v.items()} for k, v in ignite.items()}
        docs["own"] = {i: d for i, d in own.items() if d["owner"] == user}
        events: list[dict[str, Any]] = []
        if c == "c3":  # its append lost the race and was reported
            events.append(
                {
                    "type": "conflict",
                    "detail": {"coll": "rts", "id": f"{p}.r0", "outcome": "conflict", "local": {"v": 4}},
                }
            )
        clients[c] = ClientView(None, user, docs, [], events, True)
    return Observed(p, issued, ignite, clients)


def test_checker_accepts_a_healthy_run() -> None:
    assert check(_healthy()) == []


def test_checker_finds_each_violation() -> None:
    cases = []
    obs = _healthy()
    obs.ignite["ledger"]["s1-0.k0"] = {"n": 3, "log": ["s1-0:c1:1", "s1-0:c2:2", "s1-0:c2:2"]}
    cases.append((obs, "applied 2 times"))
    obs = _healthy()
    obs.ignite["ledger"]["s1-0.k0"] = {"n": 1, "log": ["s1-0:c1:1"]}
    cases.append((obs, "missing (lost write)"))
    obs = _healthy()
    obs.clients["c3"].events.clear()
    cases.append((obs, "neither stored nor reported"))
    obs = _healthy()
    obs.ignite["rts"]["s1-0.r0"]["hist"] = [1, 2, 2]
    for v in obs.clients.values():
        v.docs["rts"]["s1-0.r0"]["hist"] = [1, 2, 2]
    cases.append((obs, "in hist 2 times"))
    obs = _healthy()
    obs.clients["c2"].docs["lww"]["s1-0.t1"] = {"v": 7, "by": "c1"}
    cases.append((obs, "came back"))
    obs = _healthy()
    obs.clients["c1"].docs["own"]["s1-0.o1"] = copy.deepcopy(obs.ignite["own"]["s1-0.o1"])
    cases.append((obs, "extra ['s1-0.o1']"))
    obs = _healthy()
    obs.clients["c2"].pending.append({"seq": 9, "coll": "lww", "id": "x", "op": "put"})
    cases.append((obs, "outbox not drained"))
    obs = _healthy()
    obs.clients["c1"].events.append({"type": "error", "detail": {"kind": "protocol", "code": 4001}})
    cases.append((obs, "error event"))
    for obs, want in cases:
        found = check(obs)
        assert any(want in v for v in found), (want, found)


def test_shrink_keeps_the_failing_core() -> None:
    steps = [{"k": "sleep", "ms": i} for i in range(30)]
    steps[7] = {"k": "cut", "hub": 0}
    steps[21] = {"k": "kill_hub", "hub": 1, "ms": 5}
    sched = Schedule(1, 0, steps)

    async def run(s: Schedule) -> list[str]:
        ks = [x["k"] for x in s.steps]
        return ["ledger: increment s1-0x:c1:4 applied 2 times"] if "cut" in ks and "kill_hub" in ks else []

    small, why = asyncio.run(shrink(sched, ["ledger: increment s1-0:c1:1 applied 2 times"], run, budget=200))
    assert [s["k"] for s in small.steps] == ["cut", "kill_hub"]
    assert why
