"""The chaos suite's own parts, without a stack: the generator is a pure function of its seed,
the checker catches each kind of violation it claims to, shrinking keeps a failing core."""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from typing import Any

import pytest

from tests.chaos.checker import ClientView, Observed, check, gone_with_restart
from tests.chaos.driver import DriverError
from tests.chaos.run import run_many
from tests.chaos.runner import Runner
from tests.chaos.schedule import (
    BROWSER,
    CLIENTS,
    CLOSABLE,
    LONG,
    QUICK,
    RESTART,
    RESTART_PERSISTENT,
    TABS,
    Schedule,
    generate,
)
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
    assert writers | {"slow", "stall", "tear", "refresh", "tab_close", "tab_open"} <= quick
    assert any(s["k"] == "put" and s["coll"] == "sql" for i in range(50) for s in generate(1, i, QUICK).steps)
    sched = generate(3, 0, QUICK)
    assert Schedule.from_json(sched.to_json()).steps == sched.steps


def test_the_restart_profile_restarts_the_cluster_once_per_schedule_and_no_other_does() -> None:
    for i in range(30):
        steps = generate(5, i, RESTART).steps
        restarts = [s for s in steps if s["k"] == "restart_cluster"]
        assert len(restarts) == 1 and 200 <= restarts[0]["ms"] < 3000
        # writes before and after it (what may be lost and what must not be)
        at = steps.index(restarts[0])
        assert any(s["k"] in ("put", "inc", "append") for s in steps[:at])
        assert any(s["k"] in ("put", "inc", "append") for s in steps[at + 1 :])
    for profile in (QUICK, LONG):
        assert not any(s["k"] == "restart_cluster" for i in range(100) for s in generate(1, i, profile).steps)


def test_the_persistent_restart_profile_plays_the_in_memory_ones_schedules_on_disk() -> None:
    """Same draws, so a failure on disk replays beside its in-memory twin; only the stack differs."""
    for i in range(30):
        assert generate(5, i, RESTART_PERSISTENT).steps == generate(5, i, RESTART).steps
    assert RESTART_PERSISTENT.persistent and not RESTART.persistent
    assert generate(5, 0, RESTART_PERSISTENT).profile == "restart-persistent"


def test_schedules_of_a_persistent_and_an_in_memory_profile_do_not_share_a_stack() -> None:
    mixed = [generate(1, 0, RESTART), generate(1, 0, RESTART_PERSISTENT)]
    with pytest.raises(ValueError, match="stacks of their own"):
        asyncio.run(run_many(mixed))


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


def test_browser_tabs_close_and_reopen_one_at_a_time() -> None:
    # the Chromium client has a second tab: a pair of pages of one database, closed and reopened
    assert set(CLOSABLE) == {"c4", "c6"} and TABS["c6"] == "c4" and set(CLOSABLE) <= BROWSER
    closes = Counter()
    for profile, n in ((QUICK, 50), (LONG, 100)):
        for i in range(n):
            closed: set[str] = set()
            for s in generate(1, i, profile).steps:
                if s["k"] == "tab_close":
                    assert s["c"] in CLOSABLE and not closed, s  # the other tab stays open
                    closed.add(s["c"])
                    closes[s["c"], s["abrupt"]] += 1
                elif s["k"] == "tab_open":
                    assert s["c"] in closed and s["hub"] in (0, 1)
                    closed.remove(s["c"])
                elif "c" in s and s["k"] != "online":  # nothing acts on a closed tab but its network
                    assert s["c"] not in closed, s
            assert not closed  # every tab reopened before the schedule ends
    # both tabs are closed (mostly the one holding the connection), killed and closed gracefully
    assert {c for c, _ in closes} == {"c4", "c6"} and {a for _, a in closes} == {True, False}
    assert closes["c4", True] + closes["c4", False] > closes["c6", True] + closes["c6", False]


class _FakeDriver:
    """Answers like the chaos driver for opened/closed clients (for the runner's step logic)."""

    def __init__(self) -> None:
        self.open: set[str] = set()
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call(self, cmd: str, timeout: float = 60.0, **args: Any) -> dict[str, Any]:
        self.calls.append((cmd, args))
        c = args.get("client", "")
        if cmd == "open":
            self.open.add(c)
        elif cmd in ("close", "put", "token") and c not in self.open:
            raise DriverError(f"{cmd} {c}: client '{c}' is not open")
        elif cmd == "close":
            self.open.discard(c)
        return {}


class _FakeStack:
    def __init__(self) -> None:
        self.driver = _FakeDriver()
        self.proxies = [type("P", (), {"url": f"ws://127.0.0.1:{9 + i}/sync"})() for i in range(2)]


def test_runner_copes_with_shrunk_tab_steps() -> None:
    """Shrinking drops steps: a tab_open without its tab_close is skipped, a write or a refresh of
    a closed tab is not issued (and changes no team), a tab left closed is noted for the end."""
    stack = _FakeStack()
    steps: list[dict[str, Any]] = [
        {"k": "tab_open", "c": "c6", "hub": 1},
        {"k": "tab_close", "c": "c4", "abrupt": True},
        {"k": "put", "c": "c4", "coll": "lww", "id": "h0", "v": 1},
        {"k": "refresh", "c": "c4", "team": "blue"},
        {"k": "put", "c": "c6", "coll": "lww", "id": "h0", "v": 2},
    ]
    runner = Runner(stack, Schedule(1, 0, steps))  # type: ignore[arg-type]

    async def play() -> None:
        for c in CLIENTS:
            await runner.open(c)
        for s in steps:
            await runner.play(s)

    asyncio.run(play())
    assert runner.skipped == 1
    assert [s["k"] for s in runner.issued] == ["tab_close", "put"]
    assert runner.issued[1]["c"] == "c6"
    assert runner.closed == {"c4"} and runner.team_of["c4"] is None
    opens = [a for cmd, a in stack.driver.calls if cmd == "open"]
    c6 = next(a for a in opens if a["client"].endswith("-c6"))
    assert c6["browser"] and c6["tab_of"].endswith("-c4") and not c6["tabs"]
    assert next(a for a in opens if a["client"].endswith("-c4"))["tabs"]


class _DeadNodeStack(_FakeStack):
    """Node 1 died outside a fault (halted on SEGMENTATION): the stack's books say nothing is down."""

    def __init__(self) -> None:
        super().__init__()
        self.down_nodes: set[int] = set()
        self.paused_nodes: set[int] = set()
        self.up = {0: True, 1: False}
        self.faults: list[str] = []

    def nodes_up(self) -> bool:
        return all(self.up.values())

    async def heal(self) -> list[str]:
        dead = [f"node {i}" for i, up in self.up.items() if not up]
        self.up = dict.fromkeys(self.up, True)
        return dead

    async def kill_node(self, i: int, ms: int) -> None:
        self.faults.append(f"kill {i}")

    async def pause_node(self, i: int, ms: int) -> None:
        self.faults.append(f"pause {i}")


def test_no_node_fault_while_a_node_is_dead_and_the_dead_one_is_restarted_first() -> None:
    """A node killed while the other one is dead takes the last copy of every partition: the
    runner must judge by what runs, not by its own books (a VM snapshot froze the machine for
    about 30 s on 2026-12-02, one node halted, and the next kill_node lost everything)."""
    stack = _DeadNodeStack()
    runner = Runner(stack, Schedule(1, 0, []))  # type: ignore[arg-type]
    steps: list[dict[str, Any]] = [
        {"k": "kill_node", "node": 0, "ms": 500},
        {"k": "pause_node", "node": 0, "ms": 500},
    ]

    async def play() -> None:
        for s in steps:
            await runner.play(s)
        assert stack.faults == [] and runner.skipped == 2
        await runner.heal("before the schedule")
        for s in steps:
            await runner.play(s)

    asyncio.run(play())
    assert stack.faults == ["kill 0", "pause 0"]
    assert runner.healed == ["node 1"] and "node 1 had died outside a fault" in runner.notes[0]


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


def _tab_conflict(told: str) -> Observed:
    """c6 appended v=9, which lost; the conflict was reported to ``told``."""
    obs = _healthy()
    obs.issued.append({"k": "append", "c": "c6", "coll": "rts", "id": "r0", "v": 9})
    detail = {"coll": "rts", "id": "s1-0.r0", "outcome": "conflict", "local": {"v": 9}}
    obs.clients[told].events.append({"type": "conflict", "detail": detail})
    return obs


def test_checker_accepts_a_healthy_run() -> None:
    assert check(_healthy()) == []
    # c6's tab was closed when the answer came: the tab holding the connection (c4) reported it
    assert check(_tab_conflict("c4")) == []


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
    # a conflict of c6's write reported to a client of another database does not count
    obs = _tab_conflict("c3")
    cases.append((obs, "c6's write v=9 neither stored nor reported"))
    for obs, want in cases:
        found = check(obs)
        assert any(want in v for v in found), (want, found)


def test_checker_after_a_cluster_restart_forgives_only_what_came_before_it() -> None:
    """The in-memory cluster restarted after the first increment and the first append: those may be
    gone; a doubled write, a later write missing and a client keeping a lost document are not."""

    obs = _healthy()
    inc1, inc2, app1 = obs.issued[0], obs.issued[1], obs.issued[2]
    obs.issued[:3] = [inc1, app1, {"k": "restart_cluster", "ms": 500}, inc2]
    obs.restart_at = 2
    assert check(obs) == [] and gone_with_restart(obs) == 0
    # the increment and the append of before the restart are gone, from Ignite and every client
    obs.ignite["ledger"]["s1-0.k0"] = {"n": 1, "log": ["s1-0:c2:2"]}
    obs.ignite["rts"]["s1-0.r0"]["hist"] = [2]
    for v in obs.clients.values():
        v.docs["ledger"] = copy.deepcopy(obs.ignite["ledger"])
        v.docs["rts"] = copy.deepcopy(obs.ignite["rts"])
    assert check(obs) == [] and gone_with_restart(obs) == 2
    # ... but not one issued after it
    lost = copy.deepcopy(obs)
    lost.ignite["ledger"]["s1-0.k0"] = {"n": 0, "log": []}
    for v in lost.clients.values():
        v.docs["ledger"] = copy.deepcopy(lost.ignite["ledger"])
    assert any("s1-0:c2:2 is missing" in v for v in check(lost)), check(lost)
    # a replay of before the restart applied twice is still a violation
    doubled = copy.deepcopy(obs)
    doubled.ignite["ledger"]["s1-0.k0"] = {"n": 3, "log": ["s1-0:c1:1", "s1-0:c1:1", "s1-0:c2:2"]}
    for v in doubled.clients.values():
        v.docs["ledger"] = copy.deepcopy(doubled.ignite["ledger"])
    assert any("s1-0:c1:1 applied 2 times" in v for v in check(doubled))
    # a client still holding what the cluster lost has not converged
    kept = copy.deepcopy(obs)
    kept.clients["c2"].docs["ledger"]["s1-0.k0"] = {"n": 2, "log": ["s1-0:c1:1", "s1-0:c2:2"]}
    assert any("c2 (bob) ledger" in v for v in check(kept))


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
