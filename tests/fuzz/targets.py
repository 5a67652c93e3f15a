"""Fuzz targets of the hub's input path, shared by the coverage-guided runner (``run.py``, atheris) and
the corpus replay test (``test_corpus.py``).

Each target takes bytes and raises :class:`Finding` (or lets any exception escape) when the hub would
misbehave on them. What the hub promises for any input (docs/protocol.md, docs/security.md):

* ``frames``: a connection's frames, through the codec's decoder with the hub's limits, the
  session state machine, the encoding of every frame it answers, and the write rule for every
  mutation that reaches a store (in memory here: the rule is the one Ignite's store runs). Every
  input ends in answers, or in a close with a documented code; never in an escaping exception, an
  ``internal_error`` (4510: a bug caught by the session), an answer the hub cannot encode, a
  decoded object deeper than the limit, or a stored document beyond the document limits.
* ``stored_doc``: a document as another Ignite writer may have stored it (anything msgpack holds),
  through the change frame every subscriber gets: always encodable, never beyond what a client
  accepts (an oversize one becomes a placeholder).

Input layout of ``frames`` (so a mutation of the input stays a sequence of frames): byte 0 is a flag
set (bit 0: start with a valid ``hello`` already accepted; bit 1: the collection is read-only;
bit 2: the client's clock ``now`` came from the frame), then frames as ``[u16 length][bytes]``.
"""

from __future__ import annotations

from typing import Any

from hub import codec
from hub.core import messages as m
from hub.core.conflict import Policy, Stored
from hub.core.dedup import DedupRecord
from hub.core.errors import BadFrame, ClientProtocolError, CloseCode
from hub.core.hlc import Hlc, client_offset_ms, rebase_ts
from hub.core.limits import check
from hub.core.mutation import apply
from hub.core.session import (
    ApplyBatch,
    Authenticate,
    Close,
    Reauthenticate,
    Send,
    Session,
    SessionConfig,
    Subscribe,
    Unsubscribe,
)
from hub.core.types import CollectionSpec, Mutation

MAX_FRAME = 64 * 1024
COLL = "todos"
HUB_NOW = 1_800_000_000_000
#: Codes a hub may close a connection with for anything a client sends (docs/protocol.md).
DOCUMENTED = {int(c) for c in CloseCode} - {int(CloseCode.INTERNAL_ERROR)}
VALID_HELLO = codec.encode({"t": "hello", "v": [1], "client": "fuzz-client", "token": None})


class Finding(AssertionError):
    """The hub broke a promise on this input."""


def split_frames(data: bytes) -> tuple[int, list[bytes]]:
    """Byte 0: flags; then ``[u16 big-endian length][frame]`` repeated (a short tail is one frame)."""
    if not data:
        return 0, []
    flags, i, frames = data[0], 1, []
    while i < len(data) and len(frames) < 64:
        if i + 2 > len(data):
            frames.append(data[i:])
            break
        n = int.from_bytes(data[i : i + 2], "big")
        frames.append(data[i + 2 : i + 2 + n])
        i += 2 + n
    return flags, frames


def join_frames(flags: int, frames: list[bytes]) -> bytes:
    """The inverse of :func:`split_frames` (for seeds)."""
    out = bytearray([flags])
    for f in frames:
        out += len(f).to_bytes(2, "big") + f
    return bytes(out)


def _depth(obj: Any, limit: int) -> int:
    stack, deepest = [(obj, 1)], 0
    while stack:
        o, d = stack.pop()
        deepest = max(deepest, d)
        if d > limit + 1:
            return d
        if isinstance(o, dict):
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            stack.extend((v, d + 1) for v in o)
    return deepest


class _Hub:
    """One connection's session and the state the write rule runs against (the stores' job)."""

    def __init__(self, flags: int) -> None:
        writable = not flags & 2
        self.cfg = SessionConfig(hub_id="fuzz", collections={COLL: writable}, max_frame=MAX_FRAME)
        self.spec = CollectionSpec(COLL, policy=Policy.LWW, writable=writable)
        self.session = Session(self.cfg, HUB_NOW)
        self.limits = codec.Limits.for_frame(MAX_FRAME)
        self.docs: dict[str, Stored] = {}
        self.record = DedupRecord()
        self.hlc = Hlc()
        self.offset = 0
        self.use_now = bool(flags & 4)
        self.closed: int | None = None

    def frame(self, data: bytes) -> None:
        if self.closed is not None:
            return  # the transport stops reading after a close
        if len(data) > MAX_FRAME:
            return  # the WebSocket layer refuses it before the codec (FrameTooLarge, tested there)
        try:
            obj = codec.decode(data, self.limits)
        except BadFrame as exc:
            self.effects(self.session.fail(exc))
            return
        if _depth(obj, self.limits.max_depth) > self.limits.max_depth + 1:
            raise Finding(f"decoded an object deeper than {self.limits.max_depth}")
        self.effects(self.session.receive_frame(obj, HUB_NOW))

    def effects(self, effects: list[Any]) -> None:
        for e in effects:
            if isinstance(e, Close):
                if e.code not in DOCUMENTED:
                    raise Finding(f"closed with {e.code} ({e.reason}); error: {e.error!r}")
                self.closed = e.code
                self.session.closed()
            elif isinstance(e, Send):
                codec.encode(e.msg)  # every answer must be encodable
            elif isinstance(e, Authenticate):
                if self.use_now:
                    self.offset = client_offset_ms(e.client_now, HUB_NOW)
                self.effects(self.session.authenticated(HUB_NOW, "fuzz-user"))
            elif isinstance(e, ApplyBatch):
                self.apply(e)
            elif isinstance(e, Subscribe | Unsubscribe | Reauthenticate):
                if isinstance(e, Subscribe) and e.coll != COLL:
                    raise Finding(f"subscribed to {e.coll!r}, which the hub does not serve")
            else:
                raise Finding(f"unknown effect {e!r}")

    def apply(self, batch: ApplyBatch) -> None:
        results: list[Any] = []
        for s in batch.slots:
            if isinstance(s, dict):
                results.append(s)
                continue
            if s.coll != COLL:
                results.append(m.error_result(s.seq, 4404, f"unknown collection {s.coll!r}"))
                continue
            ts = rebase_ts(s.ts, self.offset) if self.offset else s.ts
            mut = Mutation(batch.client, s.seq, s.coll, s.id, s.op, s.doc, ts, s.base)
            current = self.docs.get(s.id, Stored(None))
            out = apply(
                mut, self.spec, current, self.record, client=batch.client, hlc=self.hlc, now_ms=HUB_NOW
            )
            if out.stored is not None:
                doc = out.stored.doc
                if doc is not None and check(doc, self.cfg.limits) is not None:
                    raise Finding(f"stored a document beyond the limits: {s.id!r}")
                self.docs[s.id] = out.stored
            results.append(out.result.to_wire())
        codec.encode(m.ack(results))


def frames(data: bytes) -> None:
    """Target: one connection's frames (module doc)."""
    flags, chunks = split_frames(data)
    hub = _Hub(flags)
    if flags & 1:
        hub.frame(VALID_HELLO)
    for chunk in chunks:
        hub.frame(chunk)


def stored_doc(data: bytes) -> None:
    """Target: a document any Ignite writer stored, sent to subscribers (module doc)."""
    try:
        doc = codec.decode(data, codec.Limits.for_frame(1 << 20))
    except BadFrame:
        return
    if not isinstance(doc, dict):
        return
    limits = SessionConfig(hub_id="fuzz", collections={}).limits
    frame = m.chg(COLL, [_Change("d", 7, doc)], ("e", 7), limits)
    sent = frame["changes"][0][2]
    if not isinstance(sent, dict):
        raise Finding(f"a stored document went out as {sent!r}")
    if "$oversize" not in sent and check(sent, limits) is not None:
        raise Finding("sent a document a client refuses, without the placeholder")
    codec.encode(frame)


class _Change:
    def __init__(self, id: str, ver: int, doc: dict[str, Any] | None) -> None:
        self.id, self.ver, self.doc = id, ver, doc


TARGETS = {"frames": frames, "stored_doc": stored_doc}


def replay(target: str, data: bytes) -> None:
    """Run one input; a ClientProtocolError escaping is a finding too (the session must absorb it)."""
    try:
        TARGETS[target](data)
    except ClientProtocolError as exc:
        raise Finding(f"a protocol error escaped the session: {exc!r}") from exc
