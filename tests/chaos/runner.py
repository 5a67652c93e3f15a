"""Play a schedule on the stack, heal every fault, let it quiesce, observe, and check.

Each schedule gets fresh clients (fresh IndexedDB databases, named ``<prefix>-<client>``) and writes
only documents of its own prefix, so schedules of one run are independent; the collections, hubs
and Ignite nodes are shared (a fault that leaves a hub broken shows in the next schedules too)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import Counter
from typing import Any

from tests.chaos.checker import ClientView, Observed, check, check_clients, doc_key, gone_with_restart, op_id
from tests.chaos.driver import DriverError
from tests.chaos.schedule import BROWSER, CLIENTS, TABS, TEAMS, Schedule
from tests.chaos.stack import COLLS, SQL_TABLE, Stack

QUIESCE_S = 90.0


@dataclasses.dataclass
class Outcome:
    schedule: Schedule
    violations: list[str]
    faults: Counter[str]
    writes: int
    skipped: int
    seconds: float
    notes: list[str] = dataclasses.field(default_factory=list)
    timing: tuple[float, float] = (0.0, 0.0)
    observed: Observed | None = None
    healed: list[str] = dataclasses.field(default_factory=list)  # died outside a fault, restarted

    @property
    def ok(self) -> bool:
        return not self.violations


FAULTS = {
    "offline",
    "reload",
    "cut",
    "tear",
    "stall",
    "pause_hub",
    "kill_hub",
    "term_hub",
    "kill_node",
    "restart_cluster",
    "pause_node",
    "ext_clear",
    "refresh",
    "slow",
    "tab_close",
}
WRITES = {
    "put",
    "del",
    "append",
    "inc",
    "own",
    "team",
    "ext_put",
    "ext_del",
    "ext_own",
    "ext_ttl",
    "ext_team",
    "node_put",
    "node_del",
    "sql_merge",
    "sql_update",
    "sql_delete",
}


class Runner:
    def __init__(self, stack: Stack, sched: Schedule) -> None:
        self.stack = stack
        self.sched = sched
        self.p = sched.prefix
        assert stack.driver is not None
        self.driver = stack.driver
        self.hub_of = {c: hub for c, (_, hub) in CLIENTS.items()}
        # the team claim of each database's token (tabs share their database's)
        self.team_of: dict[str, str | None] = {c: TEAMS.get(c) for c in CLIENTS if c not in TABS}
        self.issued: list[dict[str, Any]] = []
        self.closed: set[str] = set()  # tabs a ``tab_close`` closed (reopened by ``tab_open`` or at the end)
        self.skipped = 0
        self.notes: list[str] = []
        self.timing = (0.0, 0.0)  # seconds playing the steps, seconds quiescing and checking
        self.observed: Observed | None = None  # what the checker saw last
        self.healed: list[str] = []
        # index in ``issued`` of the whole-cluster restart: writes before it may be lost with the cluster
        self.restart_at: int | None = None

    def client(self, c: str) -> str:
        return f"{self.p}-{c}"

    def token(self, c: str) -> str:
        user, team = CLIENTS[c][0], self.team_of[TABS.get(c, c)]
        return f"{user}@{team}" if team else user

    async def open(self, c: str) -> None:
        user, _ = CLIENTS[c]
        await self.driver.call(
            "open",
            client=self.client(c),
            url=self.stack.proxies[self.hub_of[c]].url,
            user=user,
            colls=COLLS,
            token=self.token(c),
            browser=c in BROWSER,
            tabs=c in TABS.values(),
            tab_of=self.client(TABS[c]) if c in TABS else None,
            timeout=90,
        )

    async def run(self) -> Outcome:
        t0 = time.monotonic()
        await self.heal("before the schedule")
        # together (a Chromium open takes about a second), the first tab of a database before the
        # others: it takes the connection lock
        await asyncio.gather(*(self.open(c) for c in CLIENTS if c not in TABS))
        await asyncio.gather(*(self.open(c) for c in TABS))
        for step in self.sched.steps:
            await self.play(step)
        t_steps = time.monotonic() - t0
        violations = await self.quiesce_and_check()
        self.timing = (t_steps, time.monotonic() - t0 - t_steps)
        faults = Counter(s["k"] for s in self.issued if s["k"] in FAULTS)
        writes = sum(1 for s in self.issued if s["k"] in WRITES)

        async def close(c: str) -> None:
            with contextlib.suppress(Exception):
                await self.driver.call("close", client=self.client(c), timeout=20)

        await asyncio.gather(*(close(c) for c in CLIENTS))
        return Outcome(
            self.sched,
            violations,
            faults,
            writes,
            self.skipped,
            time.monotonic() - t0,
            self.notes,
            self.timing,
            self.observed,
            self.healed,
        )

    async def heal(self, when: str) -> None:
        for what in await self.stack.heal():
            self.healed.append(what)
            self.notes.append(f"{what} had died outside a fault; restarted {when}")

    # ------------------------------------------------------------------ steps

    async def play(self, step: dict[str, Any]) -> None:
        k = step["k"]
        st = self.stack
        try:
            if k == "sleep":
                await asyncio.sleep(step["ms"] / 1000)
                return
            if k in ("put", "own"):
                user = CLIENTS[step["c"]][0]
                doc: dict[str, Any] = {"id": doc_key(self.p, step["id"]), "v": step["v"], "by": step["c"]}
                if k == "own":
                    doc["owner"] = user
                await self.driver.call("put", client=self.client(step["c"]), coll=step["coll"], doc=doc)
            elif k == "del":
                await self.driver.call(
                    "del",
                    client=self.client(step["c"]),
                    coll=step["coll"],
                    doc_id=doc_key(self.p, step["id"]),
                )
            elif k == "append":
                await self.driver.call(
                    "append",
                    client=self.client(step["c"]),
                    coll=step["coll"],
                    doc={"id": doc_key(self.p, step["id"]), "v": step["v"], "by": step["c"]},
                    field="hist",
                    value=step["v"],
                )
            elif k == "team":
                doc = {
                    "id": doc_key(self.p, step["id"]),
                    "team": step["team"],
                    "v": step["v"],
                    "by": step["c"],
                }
                await self.driver.call("put", client=self.client(step["c"]), coll="team", doc=doc)
            elif k == "ext_team":
                try:
                    fields = {"team": step["team"], "v": step["v"], "by": "ext"}
                    await st.ext_put("team", doc_key(self.p, step["id"]), fields)
                except Exception as exc:
                    self.notes.append(f"external put failed: {exc!r}")
            elif k == "refresh":
                c = step["c"]
                owner = TABS.get(c, c)
                before, self.team_of[owner] = self.team_of[owner], step["team"]
                tab_of = self.client(owner) if owner != c else None
                try:
                    await self.driver.call("token", client=self.client(c), token=self.token(c), tab_of=tab_of)
                except DriverError:  # e.g. a closed tab (a shrunk schedule): the token did not change
                    self.team_of[owner] = before
                    raise
            elif k == "inc":
                doc = {
                    "id": doc_key(self.p, step["id"]),
                    "inc": 1,
                    "op": op_id(self.p, step["c"], step["op"]),
                }
                await self.driver.call("put", client=self.client(step["c"]), coll="ledger", doc=doc)
            elif k in ("ext_put", "ext_own"):
                fields: dict[str, Any] = {"v": step["v"], "by": "ext"}
                if k == "ext_own":
                    fields["owner"] = step["owner"]
                try:
                    await st.ext_put(step["coll"], doc_key(self.p, step["id"]), fields)
                except Exception as exc:  # Ignite busy or a node down: the write may or may not land
                    self.notes.append(f"external put failed: {exc!r}")
            elif k == "ext_ttl":
                try:
                    fields = {"v": step["v"], "by": "ext"}
                    await st.ext_ttl(step["coll"], doc_key(self.p, step["id"]), fields, step["ms"])
                except Exception as exc:
                    self.notes.append(f"external put with expiry failed: {exc!r}")
            elif k in ("node_put", "node_del"):
                doc_id = doc_key(self.p, step["id"])
                try:
                    if k == "node_put":
                        await st.node_write(step["coll"], "put", doc_id, {"v": step["v"], "by": "node"})
                    else:
                        await st.node_write(step["coll"], "del", doc_id)
                except Exception as exc:  # a node down: the write may or may not land
                    self.notes.append(f"Node.js writer failed: {exc!r}")
            elif k in ("sql_merge", "sql_update", "sql_delete"):
                doc_id = doc_key(self.p, step["id"])
                if k == "sql_merge":
                    query = f'MERGE INTO {SQL_TABLE} (id, "v", "by") VALUES (?, ?, \'sql\')'
                    args: list[Any] = [doc_id, step["v"]]
                elif k == "sql_update":
                    query = f'UPDATE {SQL_TABLE} SET "v" = ?, "by" = \'sql-update\' WHERE id = ?'
                    args = [step["v"], doc_id]
                else:
                    query, args = f"DELETE FROM {SQL_TABLE} WHERE id = ?", [doc_id]
                try:
                    await st.sql(query, args)
                except Exception as exc:
                    self.notes.append(f"SQL DML failed: {exc!r}")
            elif k == "slow":
                await self.slow(step)
            elif k == "ext_clear":
                try:
                    await st.ext_clear(step["coll"])
                except Exception as exc:
                    self.notes.append(f"external clear failed: {exc!r}")
            elif k == "pause_node":
                if st.down_nodes or st.paused_nodes or not st.nodes_up():
                    self.skipped += 1
                    return
                await st.pause_node(step["node"], step["ms"])
            elif k == "ext_del":
                try:
                    await st.ext_del(step["coll"], doc_key(self.p, step["id"]))
                except Exception as exc:
                    self.notes.append(f"external delete failed: {exc!r}")
            elif k == "offline":
                await self.driver.call("offline", client=self.client(step["c"]))
            elif k == "online":
                await self.driver.call("online", client=self.client(step["c"]))
            elif k == "reload":
                c = step["c"]
                await self.driver.call(
                    "close", client=self.client(c), abrupt=bool(step.get("abrupt")), timeout=30
                )
                self.hub_of[c] = step["hub"]
                await self.open(c)
            elif k == "tab_close":
                # a tab closes for a while (its page killed or closed): the other tab of its
                # database holds the connection meanwhile
                await self.driver.call(
                    "close", client=self.client(step["c"]), abrupt=bool(step.get("abrupt")), timeout=30
                )
                self.closed.add(step["c"])
            elif k == "tab_open":
                if step["c"] not in self.closed:  # its tab_close was shrunk away
                    self.skipped += 1
                    return
                self.hub_of[step["c"]] = step["hub"]
                await self.open(step["c"])
                self.closed.discard(step["c"])
            elif k == "cut":
                st.proxies[step["hub"]].cut_all()
            elif k == "tear":
                st.proxies[step["hub"]].cut_mid_frame(step["seed"])
            elif k == "stall":
                await st.stall(step["hub"], step["ms"])
            elif k in ("kill_hub", "term_hub", "pause_hub"):
                if st.hub_busy(step["hub"]):
                    self.skipped += 1
                    return
                if k == "pause_hub":
                    await st.pause_hub(step["hub"], step["ms"])
                else:
                    await st.kill_hub(step["hub"], step["ms"], term=k == "term_hub")
            elif k == "kill_node":
                if st.down_nodes or st.paused_nodes or not st.nodes_up():
                    self.skipped += 1
                    return
                await st.kill_node(step["node"], step["ms"])
            elif k == "restart_cluster":
                if st.down_nodes or st.paused_nodes or not st.nodes_up():
                    self.skipped += 1
                    return
                await st.restart_cluster(step["ms"])
                # in memory the writes before it may go with the cluster; on disk nothing may
                if not st.persistent:
                    self.restart_at = len(self.issued)
            else:
                raise ValueError(f"unknown step {step}")
        except DriverError as exc:
            # the client refused the operation (e.g. a write while closed): not a write it accepted
            self.notes.append(str(exc))
            return
        self.issued.append(step)

    async def slow(self, step: dict[str, Any]) -> None:
        """A client stops reading for ``ms`` (the proxy holds its connections) while a burst of
        large documents arrives: its hub's send queue for it overflows."""
        c = step["c"]
        family = [c] + [t for t, of in TABS.items() if of == c] + ([TABS[c]] if c in TABS else [])
        ports: set[int] = set()
        for name in family:
            ports.update((await self.driver.call("ports", client=self.client(name)))["ports"])
        held = sum(proxy.hold(ports, step["ms"] / 1000) for proxy in self.stack.proxies)
        if not held:  # offline, or reconnecting: nothing to hold
            self.notes.append(f"slow {c}: no open connection")
        try:
            await self.stack.burst(step["v"])
        except Exception as exc:
            self.notes.append(f"burst failed: {exc!r}")

    # ------------------------------------------------------------------ the end

    async def quiesce_and_check(self) -> list[str]:
        st = self.stack
        for proxy in st.proxies:
            proxy.stall(0)
        await st.settle()
        self.notes += st.notes
        st.notes.clear()
        await self.heal("before the check")
        for c in sorted(self.closed):  # a shrunk schedule may have lost the tab_open
            await self.open(c)
        self.closed.clear()
        for c in CLIENTS:
            await self.driver.call("online", client=self.client(c))
        deadline = time.monotonic() + QUIESCE_S
        t_flush = time.monotonic()
        flushed: dict[str, bool] = {}

        async def flush(c: str) -> None:
            left = max(1.0, deadline - time.monotonic())
            res = await self.driver.call(
                "flush", client=self.client(c), timeout_ms=int(left * 1000), timeout=left + 10
            )
            flushed[c] = bool(res.get("flushed")) and not res.get("pending")
            self.notes.append(f"{c} flushed after {time.monotonic() - t_flush:.1f}s: {res}")

        await asyncio.gather(*(flush(c) for c in CLIENTS))
        # once the outboxes are empty, the clients converge on what Ignite holds: poll until they
        # agree (or the deadline passes and the checker reports the difference)
        while True:
            obs = await self.observe(flushed)
            self.observed = obs
            if not check_clients(obs) or time.monotonic() > deadline:
                self.notes.append(f"converged after {time.monotonic() - t_flush:.1f}s")
                if obs.restart_at is not None:
                    gone = gone_with_restart(obs)
                    self.notes.append(f"restart: {gone} earlier increments and appends gone with the cluster")
                return check(obs)
            await asyncio.sleep(0.3)

    async def observe(self, flushed: dict[str, bool]) -> Observed:
        ignite = {coll: await self.stack.ignite_state(coll) for coll in COLLS}
        clients: dict[str, ClientView] = {}
        dumps = await asyncio.gather(
            *(self.driver.call("dump", client=self.client(c), colls=COLLS) for c in CLIENTS)
        )
        for (c, (user, _)), dump in zip(CLIENTS.items(), dumps, strict=True):
            docs = {
                coll: {
                    i: {k: v for k, v in d.items() if k != "id" and v is not None} for i, d in held.items()
                }
                for coll, held in dump["data"].items()
            }
            clients[c] = ClientView(
                self.team_of[TABS.get(c, c)],
                user,
                docs,
                list(dump.get("pending") or []),
                list(dump.get("events") or []),
                flushed.get(c, False),
            )
        return Observed(self.p, self.issued, ignite, clients, self.restart_at)


async def run_schedule(stack: Stack, sched: Schedule) -> Outcome:
    return await Runner(stack, sched).run()
