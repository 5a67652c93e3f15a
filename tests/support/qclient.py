"""A raw-protocol test client that also speaks query subscriptions (``qpage``, ``qsynced``,
``qchg``, ``qresync``): one model per ``sub`` id, applied by version as the protocol says
(``[id, ver, nil]``: no longer in that subset)."""

from __future__ import annotations

from typing import Any

from tests.support.wsclient import HubClient

Held = dict[str, tuple[int, dict[str, Any] | None]]


class QueryClient(HubClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subsets: dict[int, Held] = {}
        self.qcursors: dict[int, list[Any]] = {}
        self.qsynced: dict[int, list[dict[str, Any]]] = {}
        self.qresyncs: list[dict[str, Any]] = []
        self.streams: dict[str, set[int]] = {}  # q -> sub ids
        self.qchgs: list[dict[str, Any]] = []
        self._qseen: dict[int, set[str]] = {}

    async def qsub(
        self,
        coll: str,
        sub_id: int,
        *,
        filter: Any = None,
        name: str | None = None,
        params: dict[str, Any] | None = None,
        cursor: list[Any] | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Subscribe to a subset and wait for its ``qsynced`` (or an error answering it)."""
        msg: dict[str, Any] = {"t": "sub", "id": sub_id, "coll": coll, "cursor": cursor}
        if filter is not None:
            msg["filter"] = filter
        if name is not None:
            msg["name"], msg["params"] = name, params
        before = len(self.qsynced.get(sub_id, []))
        errors = len(self.errors)
        await self.send(msg)
        await self.wait(
            lambda: (
                len(self.qsynced.get(sub_id, [])) > before
                or len(self.errors) > errors
                or self.close_code is not None
            ),
            timeout,
        )
        if len(self.errors) > errors:
            return self.errors[-1]
        return self.qsynced[sub_id][-1]

    def subset(self, sub_id: int) -> dict[str, dict[str, Any]]:
        """The documents subscription ``sub_id`` holds (removals dropped)."""
        return {i: dict(doc) for i, (_, doc) in self.subsets.get(sub_id, {}).items() if doc is not None}

    def _qapply(self, sub_id: int, changes: list[list[Any]], seen: set[str] | None) -> None:
        held = self.subsets.setdefault(sub_id, {})
        for doc_id, ver, doc in changes:
            if seen is not None:
                seen.add(doc_id)
            have = held.get(doc_id)
            # a document at the version of a held absence replaces it (wsclient.HubClient._apply)
            if have is None or ver > have[0] or (ver == have[0] and doc is not None and have[1] is None):
                held[doc_id] = (ver, doc)

    async def _handle(self, msg: dict[str, Any]) -> None:
        t = msg["t"]
        if t == "qpage":
            self.received.append(msg)
            self._qapply(msg["id"], msg["changes"], self._qseen.setdefault(msg["id"], set()))
        elif t == "qsynced":
            self.received.append(msg)
            sid = msg["id"]
            if msg["reset"]:  # scoped to this subscription
                seen = self._qseen.get(sid, set())
                held = self.subsets.setdefault(sid, {})
                for doc_id in [i for i in held if i not in seen]:
                    del held[doc_id]
            self._qseen[sid] = set()
            self.qcursors[sid] = list(msg["cursor"])
            for subs in self.streams.values():
                subs.discard(sid)
            self.streams.setdefault(msg["q"], set()).add(sid)
            self.qsynced.setdefault(sid, []).append(msg)
        elif t == "qchg":
            self.received.append(msg)
            self.qchgs.append(msg)
            for sid in self.streams.get(msg["q"], ()):
                self._qapply(sid, msg["changes"], None)
                held = self.qcursors.get(sid)
                c = msg["cursor"]
                if held is None or held[0] != c[0] or c[1] > held[1]:
                    self.qcursors[sid] = list(c)
        elif t == "qresync":
            self.received.append(msg)
            self.qresyncs.append(msg)
            self._qseen[msg["id"]] = set()
        else:
            await super()._handle(msg)
