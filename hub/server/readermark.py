"""Reader marks: to which reader (subject and claims) a collection's cursors were issued.

Under a row filter a cursor holds what its reader was allowed to see. A client that resumes with
it under other claims (a new token on reconnect, another user in the same browser) must not catch
up from it: it would keep documents no longer readable and miss ones that became readable. The
hub records a fingerprint of the reader per client and collection and compares it before a
catch-up (docs/sync-model.md, docs/security.md §4).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from hub.core.cursor import Cursor, SyncPlan

if TYPE_CHECKING:
    from hub.auth.identity import Identity
    from hub.authz import AccessPolicy
    from hub.server.syncreads import SyncReads


def reader_mark(identity: Identity | None, policy: AccessPolicy, coll: str) -> str | None:
    """Under a row filter: a fingerprint of what the identity may read (its subject and claims)."""
    if identity is None or not policy.has_row_filter(coll):
        return None
    return hashlib.blake2b(identity.key.encode(), digest_size=8).hexdigest()


def parse_mark(value: str | None) -> tuple[str | None, int]:
    """A recorded reader mark: the fingerprint, and the cursor version it was recorded with (cursors
    below it were issued before: to another reader, or never stored by the client)."""
    if value is None:
        return None, 0
    mark, _, since = value.partition(" ")
    return mark, int(since) if since.isdigit() else 0


async def check_reader(
    reads: SyncReads, coll: str, client: str, cursor: Cursor | None, plan: SyncPlan, mark: str | None
) -> tuple[SyncPlan, str | None]:
    """The plan for this reader, and the mark still to record (None: nothing to record).

    A catch-up for another reader than the one recorded becomes a snapshot, as an ``auth`` refresh
    does; so does one from a cursor older than the recording (the client may have lost the
    connection before it stored the cursor the recording went with)."""
    if mark is None or plan.mode != "catchup":
        return plan, mark
    recorded, since = parse_mark(await reads.reader_mark(coll, client))
    if recorded != mark or cursor is None or cursor[1] < since:
        return SyncPlan("snapshot", 0, True, "auth"), mark
    return plan, None  # recorded already
