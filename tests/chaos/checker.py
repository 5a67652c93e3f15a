"""What must hold once a chaos schedule has quiesced (every fault healed, every client online and
its outbox drained). Pure: it reads what the runner observed and lists the violations.

* Every client's outbox drained: every write it accepted was answered by a hub.
* Every client's local view equals what Ignite holds, for exactly what its user may read (the
  ``own`` collection: documents whose ``owner`` is the user; ``team``: documents of the team its
  token names now).
* ``ledger``: every increment a client accepted is in the stored ``log`` exactly once (a missing
  id is a lost write, a repeated one a write applied twice), and ``n`` counts the log.
* After a restart of the whole cluster (in memory: it comes back empty) the writes issued before it
  may be gone, acknowledged or not, and the clients must have dropped them too; no write may be
  doubled, and every write issued after it (while the cluster was down included) must hold.
* ``rts``: every value a client appended is in the stored ``hist`` (accepted) or was reported to
  that client as a conflict (to any tab of its database: the tab that wrote may be closed when the
  answer comes, and the tab holding the connection tells the others); no value is in ``hist`` twice.
* Documents a client created and deleted (``t*``) are deleted in Ignite and in every client.
* No client saw a protocol error, a fatal close, a store error or an uncaught exception; a
  write refused with an error is only expected where a row filter may refuse it (``own``, ``team``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from tests.chaos.schedule import TABS

Docs = dict[str, dict[str, Any]]

# error kinds a client may report in a healthy run: a refused write of a moved ``own`` document
# (``mutation``), a 45xx retry of a write, a refused `sub` retried at the next connection
_ALLOWED_ERRORS = {"mutation", "sub", "hub", "auth", "unsub"}
ROW_FILTERED = {"own", "team"}


@dataclasses.dataclass
class ClientView:
    team: str | None  # the team claim of its token (the ``team`` collection's row filter)
    user: str
    docs: dict[str, Docs]  # coll -> {id: doc without "id"}
    pending: list[dict[str, Any]]
    events: list[dict[str, Any]]
    flushed: bool


@dataclasses.dataclass
class Observed:
    prefix: str
    issued: list[dict[str, Any]]  # steps that took effect (writes a client accepted, faults injected)
    ignite: dict[str, Docs]  # coll -> whole data cache
    clients: dict[str, ClientView]
    # index in ``issued`` of a restart of the whole (in-memory) cluster: the writes issued before it
    # may be gone with it, acknowledged or not; everything issued after it must hold as usual
    restart_at: int | None = None

    def must_keep(self, i: int) -> bool:
        """Whether the write ``issued[i]`` must be in Ignite (or reported refused)."""
        return self.restart_at is None or i > self.restart_at


def visible(coll: str, docs: Docs, user: str, team: str | None = None) -> Docs:
    if coll == "own":
        return {k: v for k, v in docs.items() if v.get("owner") == user}
    if coll == "team":
        return {k: v for k, v in docs.items() if v.get("team") == team}
    return docs


def doc_key(prefix: str, doc_id: str) -> str:
    return f"{prefix}.{doc_id}"


def op_id(prefix: str, client: str, op: int) -> str:
    return f"{prefix}:{client}:{op}"


def _events(view: ClientView, type_: str) -> list[dict[str, Any]]:
    return [e.get("detail") or {} for e in view.events if e.get("type") == type_]


def check(obs: Observed) -> list[str]:
    out: list[str] = []
    out += check_clients(obs)
    out += _check_ledger(obs)
    out += _check_rts(obs)
    out += _check_tombs(obs)
    return out


def check_clients(obs: Observed) -> list[str]:
    """What each client holds and reported (the part that may still change while replicas converge)."""
    out: list[str] = []
    for name, view in sorted(obs.clients.items()):
        if not view.flushed or view.pending:
            out.append(f"{name}: outbox not drained: {len(view.pending)} pending {view.pending[:3]}")
        for coll, held in sorted(view.docs.items()):
            want = visible(coll, obs.ignite.get(coll, {}), view.user, view.team)
            if held != want:
                missing = sorted(set(want) - set(held))[:4]
                extra = sorted(set(held) - set(want))[:4]
                differ = [(k, held[k], want[k]) for k in sorted(set(held) & set(want)) if held[k] != want[k]][
                    :3
                ]
                out.append(
                    f"{name} ({view.user}) {coll}: {len(held)} docs, Ignite shows it {len(want)}; "
                    f"missing {missing} extra {extra} differ {differ}"
                )
        for e in view.events:
            t, d = e.get("type"), e.get("detail") or {}
            if t == "uncaught":
                out.append(f"{name}: uncaught {d}")
            elif t == "error" and d.get("kind") not in _ALLOWED_ERRORS:
                out.append(f"{name}: error event {d}")
            elif (
                t == "error"
                and d.get("kind") == "mutation"
                and not d.get("retry")
                and d.get("coll") not in ROW_FILTERED
            ):
                out.append(f"{name}: write refused {d}")
    return out


def _tabs(obs: Observed, client: str) -> list[ClientView]:
    """The views of every tab of ``client``'s database (itself included)."""
    db = TABS.get(client, client)
    return [v for c, v in sorted(obs.clients.items()) if TABS.get(c, c) == db]


def _refused(obs: Observed, client: str, coll: str, doc_id: str) -> list[dict[str, Any]]:
    """Writes to ``doc_id`` the hub answered with conflict/rejected/error, as reported to the tabs
    of ``client``'s database (the caller tells its writes apart by their content)."""
    found: list[dict[str, Any]] = []
    for view in _tabs(obs, client):
        found += [d for d in _events(view, "conflict") if d.get("coll") == coll and d.get("id") == doc_id]
        found += [
            d
            for d in _events(view, "error")
            if d.get("kind") == "mutation"
            and not d.get("retry")
            and d.get("coll") == coll
            and d.get("id") == doc_id
        ]
    return found


def _check_ledger(obs: Observed) -> list[str]:
    out: list[str] = []
    stored: Counter[str] = Counter()
    for doc_id, doc in obs.ignite.get("ledger", {}).items():
        if not doc_id.startswith(obs.prefix + "."):
            continue
        log = [str(x) for x in doc.get("log") or []]
        stored.update(log)
        if doc.get("n") != len(log):
            out.append(f"ledger {doc_id}: n = {doc.get('n')} but the log holds {len(log)} increments")
    expected: set[str] = set()
    kept: set[str] = set()
    for i, step in enumerate(obs.issued):
        if step["k"] != "inc":
            continue
        op = op_id(obs.prefix, step["c"], step["op"])
        refused = any(
            (d.get("local") or {}).get("op") == op
            for d in _refused(obs, step["c"], "ledger", doc_key(obs.prefix, step["id"]))
            if d.get("outcome") not in ("merged", "dup")
        )
        if not refused:
            expected.add(op)
            if obs.must_keep(i):
                kept.add(op)
    for op in sorted(kept - set(stored)):
        out.append(f"ledger: acknowledged increment {op} is missing (lost write)")
    for op, n in sorted(stored.items()):
        if n > 1:
            out.append(f"ledger: increment {op} applied {n} times")
        if op not in expected:
            out.append(f"ledger: increment {op} stored, but no client accepted it or it was refused")
    return out


def _check_rts(obs: Observed) -> list[str]:
    out: list[str] = []
    docs = obs.ignite.get("rts", {})
    for doc_id, doc in docs.items():
        if doc_id.startswith(obs.prefix + "."):
            for v, n in Counter(doc.get("hist") or []).items():
                if n > 1:
                    out.append(f"rts {doc_id}: value {v} in hist {n} times (applied twice)")
    for i, step in enumerate(obs.issued):
        if step["k"] != "append" or not obs.must_keep(i):
            continue
        key = doc_key(obs.prefix, step["id"])
        hist = (docs.get(key) or {}).get("hist") or []
        if step["v"] in hist:
            continue
        reported = any(
            (d.get("local") or {}).get("v") == step["v"] for d in _refused(obs, step["c"], "rts", key)
        )
        if not reported:
            out.append(
                f"rts {key}: {step['c']}'s write v={step['v']} neither stored nor reported as a conflict"
            )
    return out


def gone_with_restart(obs: Observed) -> int:
    """How many increments and appends issued before the cluster restart Ignite no longer holds
    (what the restart took: a restart that took nothing tested little)."""
    if obs.restart_at is None:
        return 0
    logs = {str(x) for doc in obs.ignite.get("ledger", {}).values() for x in doc.get("log") or []}
    hists = {v for doc in obs.ignite.get("rts", {}).values() for v in doc.get("hist") or []}
    gone = 0
    for step in obs.issued[: obs.restart_at]:
        if step["k"] == "inc":
            gone += op_id(obs.prefix, step["c"], step["op"]) not in logs
        elif step["k"] == "append":
            gone += step["v"] not in hists
    return gone


def _check_tombs(obs: Observed) -> list[str]:
    out: list[str] = []
    created = {
        s["id"] for s in obs.issued if s["k"] == "put" and s["coll"] == "lww" and s["id"].startswith("t")
    }
    deleted = {
        s["id"] for s in obs.issued if s["k"] == "del" and s["coll"] == "lww" and s["id"].startswith("t")
    }
    for doc_id in sorted(created & deleted):
        key = doc_key(obs.prefix, doc_id)
        if key in obs.ignite.get("lww", {}):
            out.append(f"lww {key}: deleted, but Ignite holds {obs.ignite['lww'][key]}")
        for name, view in sorted(obs.clients.items()):
            if key in view.docs.get("lww", {}):
                out.append(f"{name}: deleted document {key} came back: {view.docs['lww'][key]}")
    return out
