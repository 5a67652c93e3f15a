"""Seeded generation of chaos schedules: what clients, external writers and nemeses do, in order.

A schedule is plain data (a list of steps, each a dict with ``k`` = its kind), so a failing one can
be printed, stored, replayed after the generator changed, and shrunk by removing steps. The
generator knows the shape of the stack (:data:`CLIENTS`, two hubs, two Ignite nodes) but nothing
about time: how long a nemesis lasts is part of its step (``ms``), and the runner decides what to
do with a step that no longer makes sense (e.g. pausing a hub that is down is skipped).

Collections (all shared by the schedules of a run; each schedule writes documents of its own,
``<prefix>.<name>``, so schedules never touch each other's documents):

* ``lww`` (last writer wins): hot documents written and deleted by every client and by an external
  pyignite writer; ``t*`` documents that one client creates and later deletes (they must stay
  deleted everywhere).
* ``rts`` (reject-if-stale): each write appends its unique value to the ``hist`` list of the
  document as the client sees it, so the stored ``hist`` names every accepted write.
* ``ledger`` (merge hook :func:`tests.support.hooks.ledger`): increments, each with a unique
  ``op`` id the hook appends to the stored ``log``: a lost or doubled write shows.
* ``own`` (row filter: owner only): documents of the writing client's user; the external writer
  also moves documents between owners.
* ``team`` (row filter: the token's team claim): documents moved between teams by clients and by
  the external writer, while token refreshes move clients between teams.
* ``sql``: an SQL table (created with ``CREATE TABLE`` before the hubs start), written by clients
  and by SQL DML (``MERGE``, ``UPDATE``, ``DELETE``) of another application.

External writers: pyignite (puts, removes, puts with an expiry, ``clear()``), the Node.js thin
client (``apache-ignite-client``) and SQL DML. A ``slow`` step makes one client stop reading (the
proxy holds its connection) while a burst of large documents arrives: a slow consumer.
"""

from __future__ import annotations

import dataclasses
import json
import random
from typing import Any

Step = dict[str, Any]

# client name -> (user, hub it connects to first)
CLIENTS: dict[str, tuple[str, int]] = {
    "c1": ("alice", 0),
    "c2": ("bob", 1),
    "c3": ("alice", 1),
    "c4": ("carol", 0),
    "c5": ("alice", 0),
    "c6": ("carol", 1),
}
#: the team claim each client's token starts with (None: no team; `refresh` steps change it)
TEAMS: dict[str, str | None] = {"c1": "red", "c2": "blue", "c3": "red", "c4": None, "c5": "red", "c6": None}
TEAM_NAMES = ("red", "blue")
TEAMED = 3
#: clients that are another tab of a client's database (one IndexedDB; the tab holding the Web Lock
#: connects, the other writes through it; closing it hands the connection over). c5/c1 run in Node
#: (a Web Locks stand-in), c6/c4 are two pages of Chromium (its Web Locks and BroadcastChannel).
TABS = {"c5": "c1", "c6": "c4"}
#: clients that live in a Chromium page (real IndexedDB, the browser's WebSocket); the others run in Node
BROWSER = frozenset({"c4", "c6"})
#: tabs a schedule closes and later reopens (``tab_close`` / ``tab_open``): the Chromium pair, so the
#: handoff runs on the browser's own locks; one of a pair stays open
CLOSABLE = tuple(sorted(c for pair in TABS.items() if set(pair) <= BROWSER for c in pair))
USERS = ("alice", "bob", "carol")
HUBS = 2
NODES = 2
HOT_LWW = 3
HOT_SQL = 3
#: documents a ``slow`` step's burst writes (shared by every schedule, overwritten each time)
BURST_DOCS = 48
BURST_BYTES = 12_000
HOT_RTS = 2
COUNTERS = 2
OWNED = 3


@dataclasses.dataclass(frozen=True)
class Profile:
    """How long a schedule is and which faults it may inject."""

    name: str = "custom"  # what ``--profile`` calls it (a replay command names it)
    steps: int = 22
    max_gap_ms: int = 120  # pause between two steps, uniform in [0, max_gap_ms]
    node_kills: float = 0.04  # chance that a schedule kills (and restarts) an Ignite node
    hub_kills: float = 0.5  # chance that a schedule kills or stops a hub
    faults: float = 0.3  # share of steps that are faults (not writes)
    clears: float = 0.0  # chance that a schedule has another application clear() the lww cache
    # chance that a schedule restarts the whole Ignite cluster (in memory: it comes back empty)
    cluster_restarts: float = 0.0
    # the cluster keeps its data on disk (Ignite native persistence): a restart may lose nothing.
    # Not drawn: a persistent profile's schedules are those of its in-memory twin.
    persistent: bool = False


QUICK = Profile(name="quick")
LONG = Profile(
    name="long", steps=48, max_gap_ms=200, node_kills=0.08, hub_kills=0.6, faults=0.35, clears=0.03
)
#: every schedule restarts the whole cluster once, amid the writes and the other faults
RESTART = Profile(name="restart", steps=36, max_gap_ms=200, hub_kills=0.0, faults=0.3, cluster_restarts=1.0)
#: the same schedules on a persistent cluster: every acknowledged write must survive the restart
RESTART_PERSISTENT = dataclasses.replace(RESTART, name="restart-persistent", persistent=True)
PROFILES = {p.name: p for p in (QUICK, LONG, RESTART, RESTART_PERSISTENT)}


@dataclasses.dataclass
class Schedule:
    seed: int
    index: int
    steps: list[Step]
    tag: str = ""  # tells replays apart: each run of a schedule writes documents of its own
    profile: str = "quick"  # the profile that generated it

    @property
    def prefix(self) -> str:
        return f"s{self.seed}-{self.index}{self.tag}"

    def to_json(self) -> str:
        return json.dumps(
            {"seed": self.seed, "index": self.index, "profile": self.profile, "steps": self.steps}
        )

    @staticmethod
    def from_json(text: str) -> Schedule:
        raw = json.loads(text)
        return Schedule(
            int(raw["seed"]), int(raw["index"]), list(raw["steps"]), profile=raw.get("profile", "quick")
        )

    def variant(self, steps: list[Step], tag: str) -> Schedule:
        return Schedule(self.seed, self.index, steps, tag, self.profile)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.steps:
            out[s["k"]] = out.get(s["k"], 0) + 1
        return out


def generate(seed: int, index: int, profile: Profile = QUICK) -> Schedule:
    """The ``index``-th schedule of a run seeded with ``seed`` (a pure function of both)."""
    rng = random.Random(f"{seed}/{index}")
    gen = _Gen(rng, profile)
    return Schedule(seed, index, gen.run(), profile=profile.name)


class _Gen:
    def __init__(self, rng: random.Random, profile: Profile) -> None:
        self.rng = rng
        self.p = profile
        self.out: list[Step] = []
        self.value = 0
        self.ops = 0
        self.tombs = 0
        self.ttls = 0
        self.offline: dict[str, int] = {}  # client -> steps left until it comes back online
        self.closed: dict[str, int] = {}  # tab -> steps left until it is opened again
        # which tab of each Chromium pair holds the connection (Web Locks grant in request order:
        # the tab open longest); closes prefer it, so most of them hand the connection over
        self.leader = {of: of for c, of in TABS.items() if c in CLOSABLE}
        self.open_tombs: list[tuple[str, str]] = []  # (client, doc) created, delete pending

    def run(self) -> list[Step]:
        kill_node = self.rng.random() < self.p.node_kills
        kill_hub = self.rng.random() < self.p.hub_kills
        clear_at = self.rng.randrange(self.p.steps) if self.rng.random() < self.p.clears else -1
        heavy_at = self.rng.randrange(2, max(3, self.p.steps - 4))
        # drawn only by profiles that restart (the other profiles' schedules stay as they were)
        restart = self.p.cluster_restarts > 0 and self.rng.random() < self.p.cluster_restarts
        for i in range(self.p.steps):
            if i == clear_at:
                self._emit({"k": "ext_clear", "coll": "lww"})
            if i == heavy_at and restart:
                self._emit({"k": "restart_cluster", "ms": self.rng.randrange(200, 3000)})
            elif i == heavy_at and kill_node:
                self._emit(
                    {"k": "kill_node", "node": self.rng.randrange(NODES), "ms": self.rng.randrange(500, 3000)}
                )
            elif i == heavy_at and kill_hub:
                self._hub_fault()
            elif self.rng.random() < self.p.faults:
                self._fault()
            else:
                self._write()
            for c in list(self.offline):
                self.offline[c] -= 1
                if self.offline[c] <= 0:
                    del self.offline[c]
                    self._emit({"k": "online", "c": c})
            for c in list(self.closed):
                self.closed[c] -= 1
                if self.closed[c] <= 0:
                    self._tab_open(c)
            if self.p.max_gap_ms and self.rng.random() < 0.7:
                self.out.append({"k": "sleep", "ms": self.rng.randrange(self.p.max_gap_ms + 1)})
        for c in sorted(self.closed):
            self._tab_open(c)
        for c, doc in self.open_tombs:
            self._emit({"k": "del", "c": c, "coll": "lww", "id": doc})
        for c in sorted(self.offline):
            self._emit({"k": "online", "c": c})
        return self.out

    def _emit(self, step: Step) -> None:
        self.out.append(step)

    def _next_value(self) -> int:
        self.value += 1
        return self.value

    def _client(self) -> str:
        """A client to act on: not a closed tab."""
        return self.rng.choice(sorted(c for c in CLIENTS if c not in self.closed))

    def _tab_close(self) -> None:
        """Close a tab of a Chromium pair for 2 to 8 steps (a page killed or closed): when it held the
        connection, the other tab takes it over and sends what is unacknowledged."""
        pairs = [(of, c) for c, of in sorted(TABS.items()) if c in CLOSABLE]
        of, other = self.rng.choice(pairs)
        if of in self.closed or other in self.closed:
            return
        lead = self.leader[of]
        c = lead if self.rng.random() < 0.75 else (other if lead == of else of)
        self.closed[c] = self.rng.randrange(2, 9)
        if lead == c:
            self.leader[of] = other if c == of else of
        self._emit({"k": "tab_close", "c": c, "abrupt": self.rng.random() < 0.5})

    def _tab_open(self, c: str) -> None:
        del self.closed[c]
        self._emit({"k": "tab_open", "c": c, "hub": self.rng.randrange(HUBS)})

    def _write(self) -> None:
        r = self.rng.random()
        c = self._client()
        if r < 0.20:
            self._emit(
                {
                    "k": "put",
                    "c": c,
                    "coll": "lww",
                    "id": f"h{self.rng.randrange(HOT_LWW)}",
                    "v": self._next_value(),
                }
            )
        elif r < 0.27:
            self._emit({"k": "del", "c": c, "coll": "lww", "id": f"h{self.rng.randrange(HOT_LWW)}"})
        elif r < 0.40:
            self._emit(
                {
                    "k": "append",
                    "c": c,
                    "coll": "rts",
                    "id": f"r{self.rng.randrange(HOT_RTS)}",
                    "v": self._next_value(),
                }
            )
        elif r < 0.54:
            self.ops += 1
            self._emit(
                {
                    "k": "inc",
                    "c": c,
                    "coll": "ledger",
                    "id": f"k{self.rng.randrange(COUNTERS)}",
                    "op": self.ops,
                }
            )
        elif r < 0.63:
            self._emit(
                {
                    "k": "own",
                    "c": c,
                    "coll": "own",
                    "id": f"o{self.rng.randrange(OWNED)}",
                    "v": self._next_value(),
                }
            )
        elif r < 0.69:
            if self.open_tombs and self.rng.random() < 0.6:
                tc, doc = self.open_tombs.pop(self.rng.randrange(len(self.open_tombs)))
                if tc in self.closed:  # the app deletes it in the other tab (one of a pair stays open)
                    tc = next(t for t in CLOSABLE if t != tc and TABS.get(t, t) == TABS.get(tc, tc))
                self._emit({"k": "del", "c": tc, "coll": "lww", "id": doc})
            else:
                self.tombs += 1
                doc = f"t{self.tombs}"
                self.open_tombs.append((c, doc))
                self._emit({"k": "put", "c": c, "coll": "lww", "id": doc, "v": self._next_value()})
        elif r < 0.74:
            self._sql_step(c)
        elif r < 0.79:
            if self.rng.random() < 0.15:
                self.ttls += 1
                ttl = {"k": "ext_ttl", "coll": "lww", "id": f"e{self.ttls}", "v": self._next_value()}
                self._emit(ttl | {"ms": self.rng.randrange(300, 2000)})
            elif self.rng.random() < 0.25:
                coll, doc = self.rng.choice((("lww", "h"), ("sql", "q")))
                n = HOT_LWW if coll == "lww" else HOT_SQL
                doc_id = f"{doc}{self.rng.randrange(n)}"
                if self.rng.random() < 0.75:
                    self._emit({"k": "node_put", "coll": coll, "id": doc_id, "v": self._next_value()})
                else:
                    self._emit({"k": "node_del", "coll": coll, "id": doc_id})
            elif self.rng.random() < 0.75:
                self._emit(
                    {
                        "k": "ext_put",
                        "coll": "lww",
                        "id": f"h{self.rng.randrange(HOT_LWW)}",
                        "v": self._next_value(),
                    }
                )
            else:
                self._emit({"k": "ext_del", "coll": "lww", "id": f"h{self.rng.randrange(HOT_LWW)}"})
        elif r < 0.93:
            self._team_step(c)
        else:
            self._emit(
                {
                    "k": "ext_own",
                    "coll": "own",
                    "id": f"o{self.rng.randrange(OWNED)}",
                    "owner": self.rng.choice(USERS),
                    "v": self._next_value(),
                }
            )

    def _sql_step(self, c: str) -> None:
        """Documents of the ``sql`` collection: written by clients and by SQL DML."""
        r = self.rng.random()
        doc = f"q{self.rng.randrange(HOT_SQL)}"
        if r < 0.35:
            self._emit({"k": "put", "c": c, "coll": "sql", "id": doc, "v": self._next_value()})
        elif r < 0.45:
            self._emit({"k": "del", "c": c, "coll": "sql", "id": doc})
        elif r < 0.70:
            self._emit({"k": "sql_merge", "coll": "sql", "id": doc, "v": self._next_value()})
        elif r < 0.85:
            self._emit({"k": "sql_update", "coll": "sql", "id": doc, "v": self._next_value()})
        else:
            self._emit({"k": "sql_delete", "coll": "sql", "id": doc})

    def _team_step(self, c: str) -> None:
        """Documents of the ``team`` collection (row filter: the token's team claim)."""
        r = self.rng.random()
        doc = f"m{self.rng.randrange(TEAMED)}"
        team = self.rng.choice(TEAM_NAMES)
        if r < 0.45:
            self._emit(
                {"k": "team", "c": c, "coll": "team", "id": doc, "team": team, "v": self._next_value()}
            )
        elif r < 0.75:
            self._emit({"k": "ext_team", "coll": "team", "id": doc, "team": team, "v": self._next_value()})
        else:
            self._emit({"k": "refresh", "c": c, "team": team})

    def _fault(self) -> None:
        if CLOSABLE and self.rng.random() < 0.12:
            self._tab_close()
            return
        r = self.rng.random()
        hub = self.rng.randrange(HUBS)
        if r < 0.25:
            c = self._client()
            if c not in self.offline:
                self.offline[c] = self.rng.randrange(2, 9)
                self._emit({"k": "offline", "c": c})
        elif r < 0.42:
            c = self._client()
            self._emit(
                {"k": "reload", "c": c, "hub": self.rng.randrange(HUBS), "abrupt": self.rng.random() < 0.5}
            )
            of = TABS.get(c, c)
            if self.leader.get(of) == c:  # the other tab (open: one of a pair stays open) takes over
                self.leader[of] = next(t for t in (of, *(k for k, v in TABS.items() if v == of)) if t != c)
        elif r < 0.60:
            self._emit({"k": "cut", "hub": hub})
        elif r < 0.75:
            self._emit({"k": "tear", "hub": hub, "seed": self.rng.randrange(1 << 30)})
        elif r < 0.88:
            self._emit({"k": "stall", "hub": hub, "ms": self.rng.randrange(50, 1500)})
        elif r < 0.93:
            self._emit({"k": "pause_hub", "hub": hub, "ms": self.rng.randrange(100, 1500)})
        elif r < 0.97:
            c = self.rng.choice(sorted(k for k in CLIENTS if k not in BROWSER and k not in self.closed))
            self._emit({"k": "slow", "c": c, "ms": self.rng.randrange(1000, 6000), "v": self._next_value()})
        else:
            self._emit(
                {"k": "pause_node", "node": self.rng.randrange(NODES), "ms": self.rng.randrange(200, 2000)}
            )

    def _hub_fault(self) -> None:
        hub = self.rng.randrange(HUBS)
        kind = self.rng.choice(("kill_hub", "kill_hub", "term_hub", "pause_hub"))
        self._emit({"k": kind, "hub": hub, "ms": self.rng.randrange(200, 2500)})
