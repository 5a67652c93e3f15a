"""Sync pages as frames: a page cut into frames that fit the connection's ``max_frame``, and a page
that other syncs send too (a connection storm) framed with its changes encoded once for all of them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hub import codec
from hub.core import messages as m
from hub.core.cursor import Cursor
from hub.core.limits import DocLimits
from hub.core.types import Change
from hub.server.syncreads import SharedPage


def encode_chunks(
    build: Callable[[Sequence[Change]], dict[str, Any]], changes: Sequence[Change], max_frame: int
) -> list[tuple[bytes, Sequence[Change]]]:
    """Encode ``build(changes)``; split the changes in halves while a frame exceeds ``max_frame``
    (a single change larger than ``max_frame`` still goes out alone)."""
    frame = codec.encode(build(changes))
    if len(frame) <= max_frame or len(changes) <= 1:
        return [(frame, changes)]
    half = len(changes) // 2
    return encode_chunks(build, changes[:half], max_frame) + encode_chunks(build, changes[half:], max_frame)


def encode_shared_page(
    head: Callable[[bool], dict[str, Any]],
    page: SharedPage,
    lo: int,
    hi: int,
    limits: DocLimits,
    max_frame: int,
) -> list[bytes]:
    """The frames of :func:`encode_chunks` for ``page[lo:hi]``, a part of a read that other syncs
    send too (a connection storm): ``head(last)`` is the page without its changes, which are encoded
    once per part for all of them and copied in (``changes`` goes last)."""

    def part(a: int, b: int) -> list[bytes]:
        raw = page.encoded.get((a, b, limits))
        if raw is None:
            raw = page.encoded[(a, b, limits)] = codec.encode(m.changes(page[a:b], limits))
        frame = codec.encode_with(head(b == hi), "changes", raw)
        if len(frame) <= max_frame or b - a <= 1:
            return [frame]
        mid = a + (b - a) // 2
        return part(a, mid) + part(mid, b)

    return part(lo, hi)


def cut_pages(
    visible: list[Change], last: int, covered: int, epoch: str, resumable: bool, page_size: int
) -> list[tuple[list[Change], Cursor | None]]:
    """A store read's visible changes cut into pages of at most ``page_size``, each with the
    cursor a client holding it (and every page before) may resume a catch-up from.

    The last page: everything up to ``last`` (the version the read reached) was read. A page
    before it: up to its last change's version, unless the next page goes on with that same
    version (two hubs stamped it on different documents: no cursor, or the rest would be
    skipped). Never above ``covered``: none at or below it can still commit, one above it
    could, below the read's last version."""
    pages = [visible[i : i + page_size] for i in range(0, len(visible), page_size)]
    out: list[tuple[list[Change], Cursor | None]] = []
    for i, page in enumerate(pages):
        if not resumable:
            at = None
        elif i == len(pages) - 1:
            at = (epoch, min(last, covered))
        else:
            v = page[-1].ver
            at = (epoch, min(v, covered)) if pages[i + 1][0].ver > v else None
        out.append((page, at))
    return out
