"""Authorisation: who may read and write which collection, and which documents.

Rules live next to each collection in the hub config::

    [collections.todos.access]
    read = ["authenticated"]                 # any entry matching grants access
    write = ["role:editor", "scope:todos.write", "sub:alice"]
    row_filter = "myapp.acl:owner_only"     # (identity, doc_id, doc) -> bool
    write_check = "myapp.acl:owner_writes"  # (identity, doc_id, old_doc, new_doc) -> bool

Entries: ``"*"`` (everyone, anonymous included), ``"authenticated"`` (every non-anonymous
identity), ``"sub:<id>"``, ``"role:<r>"`` (the ``roles_claim``), ``"scope:<s>"`` (``scope`` or
``scp``), ``"claim:<dotted.path>=<value>"``. A claim matches when it equals the value, is a
list containing it, or is a space-separated string containing it. An empty list grants nothing;
an unknown entry is a configuration error. A collection without an ``access`` table gets
``read = write = ["authenticated"]``.

Safety rules: the hooks fail closed (an exception means "no"); a tombstone is visible to every
reader of the collection (the hub no longer has the deleted document to filter on); with a
``row_filter`` but no ``write_check``, a write needs both the old and the new document to pass
the row filter (no overwriting, creating or giving away documents one cannot see).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar
from urllib.parse import urlsplit

from hub.auth.factory import load_callable
from hub.auth.identity import Identity
from hub.core.errors import HubUsageError
from hub.core.types import Change

log = logging.getLogger(__name__)

Doc = Mapping[str, Any]
RowFilter = Callable[[Identity, str, Doc], bool]
WriteCheck = Callable[[Identity, str, Doc | None, Doc | None], bool]
T = TypeVar("T")

DEFAULT_RULES: Final = ("authenticated",)
_ACCESS_KEYS: Final = frozenset({"read", "write", "row_filter", "write_check"})


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled entry of a ``read``/``write`` list."""

    kind: Literal["any", "authenticated", "sub", "claim"]
    path: tuple[str, ...] = ()
    value: str = ""

    def matches(self, identity: Identity) -> bool:
        if self.kind == "any":
            return True
        if identity.anonymous:
            return False
        if self.kind == "authenticated":
            return True
        if self.kind == "sub":
            return identity.subject == self.value
        return _claim_contains(identity.claims, self.path, self.value)


def _claim_contains(claims: Mapping[str, Any], path: tuple[str, ...], value: str) -> bool:
    node: Any = claims
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    if isinstance(node, bool):
        return ("true" if node else "false") == value
    if isinstance(node, str):
        return node == value or value in node.split()
    if isinstance(node, list | tuple):
        return any(isinstance(item, str) and item == value for item in node)
    return False


def parse_rule(entry: object, *, roles_claim: str = "roles") -> list[Rule]:
    """Compile one entry (``scope:`` gives two rules: ``scope`` and ``scp``).

    Raises:
        HubUsageError: not a string, unknown prefix or empty value.
    """
    if not isinstance(entry, str):
        raise HubUsageError(f"access rule {entry!r} must be a string")
    if entry == "*":
        return [Rule("any")]
    if entry == "authenticated":
        return [Rule("authenticated")]
    prefix, sep, rest = entry.partition(":")
    if sep and rest:
        if prefix == "sub":
            return [Rule("sub", value=rest)]
        if prefix == "role":
            return [Rule("claim", tuple(roles_claim.split(".")), rest)]
        if prefix == "scope":
            return [Rule("claim", ("scope",), rest), Rule("claim", ("scp",), rest)]
        if prefix == "claim":
            path, eq, value = rest.partition("=")
            if eq and path and value and all(path.split(".")):
                return [Rule("claim", tuple(path.split(".")), value)]
    raise HubUsageError(
        f"access rule {entry!r}: expected '*', 'authenticated', 'sub:<id>', 'role:<role>', "
        "'scope:<scope>' or 'claim:<path>=<value>'"
    )


@dataclass(frozen=True, slots=True)
class CollectionAccess:
    """The compiled ``access`` table of one collection."""

    read: tuple[Rule, ...] = (Rule("authenticated"),)
    write: tuple[Rule, ...] = (Rule("authenticated"),)
    row_filter: RowFilter | None = None
    write_check: WriteCheck | None = None


@dataclass(frozen=True, slots=True)
class Recheck:
    """What an ``auth`` refresh means for the connection's subscriptions."""

    ended: list[str] = field(default_factory=list)  # no longer readable: send ``unsub`` 4403
    resync: list[str] = field(default_factory=list)  # row-filtered and claims changed: resync "auth"


class AccessPolicy:
    """Per-collection permissions (named so as not to clash with ``hub.core.conflict.Policy``).

    Args:
        collections: Compiled access per collection name.
        default: Access for collections not listed (``read = write = ["authenticated"]``).
    """

    def __init__(
        self, collections: Mapping[str, CollectionAccess], default: CollectionAccess | None = None
    ) -> None:
        self.collections = dict(collections)
        self.default = default if default is not None else CollectionAccess()

    def access(self, coll: str) -> CollectionAccess:
        return self.collections.get(coll, self.default)

    def has_row_filter(self, coll: str) -> bool:
        return self.access(coll).row_filter is not None

    def can_read(self, identity: Identity, coll: str) -> bool:
        """Collection-level read permission (checked at ``sub`` and after an ``auth`` refresh)."""
        return any(rule.matches(identity) for rule in self.access(coll).read)

    def can_write(self, identity: Identity, coll: str) -> bool:
        """Collection-level write permission (a cheap pre-check of each mutation)."""
        return any(rule.matches(identity) for rule in self.access(coll).write)

    def visible(self, identity: Identity, coll: str, doc_id: str, doc: Doc | None) -> bool:
        """Whether ``identity`` may receive this document (or tombstone, ``doc`` None)."""
        access = self.access(coll)
        if not any(rule.matches(identity) for rule in access.read):
            return False
        if doc is None or access.row_filter is None:
            return True
        return _call(access.row_filter, "row_filter", coll, identity, doc_id, doc)

    def readable_doc(self, identity: Identity, coll: str, doc_id: str, doc: Doc | None) -> Doc | None:
        """``doc`` if visible, else None: for the ``doc`` of mutation results (conflicts)."""
        return doc if doc is not None and self.visible(identity, coll, doc_id, doc) else None

    def check_write(
        self, identity: Identity, coll: str, doc_id: str, old_doc: Doc | None, new_doc: Doc | None
    ) -> bool:
        """Whether ``identity`` may change ``doc_id`` from ``old_doc`` to ``new_doc`` (None =
        absent/deleted). Call it inside the store transaction, with the stored document."""
        access = self.access(coll)
        if not any(rule.matches(identity) for rule in access.write):
            return False
        if access.write_check is not None:
            return _call(access.write_check, "write_check", coll, identity, doc_id, old_doc, new_doc)
        if access.row_filter is not None:
            for doc in (old_doc, new_doc):
                if doc is not None and not _call(
                    access.row_filter, "row_filter", coll, identity, doc_id, doc
                ):
                    return False
        return True

    def filter_changes(
        self,
        identity: Identity,
        coll: str,
        changes: Sequence[Change],
        *,
        mode: Literal["delta", "snapshot"] = "delta",
        before: Mapping[str, Doc | None] | None = None,
    ) -> list[Change]:
        """The changes ``identity`` may receive.

        ``snapshot`` (pages of a sync that ends with ``reset: true``): invisible documents are
        left out. ``delta`` (catch-up pages, live ``chg``, ``resync``): an invisible put becomes
        a tombstone, because the client may hold an earlier, visible version; it is left out only
        when ``before`` (doc id -> previous document, for ids the caller knows) shows the previous
        version was not visible either.
        """
        access = self.access(coll)
        if not any(rule.matches(identity) for rule in access.read):
            return []
        if access.row_filter is None:
            return list(changes)
        out: list[Change] = []
        previous: dict[str, Doc | None] = dict(before) if before is not None else {}
        for change in changes:
            if change.doc is None or self.visible(identity, coll, change.id, change.doc):
                out.append(change)
            elif mode == "delta":
                known = change.id in previous
                prev = previous.get(change.id)
                if not known or (prev is not None and self.visible(identity, coll, change.id, prev)):
                    out.append(Change(change.id, change.ver, None))
            if mode == "delta":
                previous[change.id] = change.doc
        return out

    def fanout(
        self,
        coll: str,
        changes: Sequence[Change],
        subscribers: Iterable[tuple[T, Identity]],
        *,
        before: Mapping[str, Doc | None] | None = None,
    ) -> list[tuple[list[T], Sequence[Change]]]:
        """Group live subscribers by what they may see, so each distinct frame is encoded once.

        Returns ``(subscribers, changes)`` pairs; groups with nothing to receive are left out.
        Without a row filter there is at most one group and its changes are ``changes`` itself
        (``is`` the argument), so the caller can reuse one encoded frame for everybody. With a
        row filter, the hooks run once per distinct :attr:`Identity.key`, not per subscriber.
        """
        access = self.access(coll)
        by_identity: dict[str, tuple[tuple[int, ...], Sequence[Change]] | None] = {}
        groups: dict[tuple[int, ...], tuple[list[T], Sequence[Change]]] = {}
        for sub, identity in subscribers:
            if identity.key not in by_identity:
                by_identity[identity.key] = self._signature(identity, coll, access, changes, before)
            entry = by_identity[identity.key]
            if entry is None:
                continue
            signature, filtered = entry
            if signature not in groups:
                groups[signature] = ([], filtered)
            groups[signature][0].append(sub)
        return list(groups.values())

    def _signature(
        self,
        identity: Identity,
        coll: str,
        access: CollectionAccess,
        changes: Sequence[Change],
        before: Mapping[str, Doc | None] | None,
    ) -> tuple[tuple[int, ...], Sequence[Change]] | None:
        if not any(rule.matches(identity) for rule in access.read):
            return None
        if access.row_filter is None:
            return ((), changes) if changes else None
        filtered = self.filter_changes(identity, coll, changes, before=before)
        if not filtered:
            return None
        # A filtered list is determined by which input changes survive and which became tombstones.
        signature: list[int] = []
        j = 0
        for i, change in enumerate(changes):
            if j < len(filtered) and filtered[j].id == change.id and filtered[j].ver == change.ver:
                signature.append(i if filtered[j].doc is change.doc else -1 - i)
                j += 1
        return tuple(signature), filtered

    def recheck(self, old: Identity, new: Identity, subscribed: Iterable[str]) -> Recheck:
        """After an ``auth`` refresh: which subscriptions end and which must resync."""
        result = Recheck()
        for coll in subscribed:
            if not self.can_read(new, coll):
                result.ended.append(coll)
            elif self.has_row_filter(coll) and old.key != new.key:
                result.resync.append(coll)
        return result


def _call(hook: Callable[..., Any], what: str, coll: str, *args: Any) -> bool:
    try:
        return bool(hook(*args))
    except Exception:
        log.exception("%s hook of collection %s failed; denying", what, coll)
        return False


def compile_access(table: Mapping[str, Any], *, coll: str, roles_claim: str = "roles") -> CollectionAccess:
    """Compile one collection's ``access`` table.

    Raises:
        HubUsageError: unknown keys, malformed rules, hooks that cannot be imported.
    """
    unknown = set(table) - _ACCESS_KEYS
    if unknown:
        raise HubUsageError(f"collections.{coll}.access: unknown key(s) {sorted(unknown)}")

    def rules(name: str) -> tuple[Rule, ...]:
        entries = table.get(name, list(DEFAULT_RULES))
        if not isinstance(entries, list):
            raise HubUsageError(f"collections.{coll}.access.{name} must be a list of rules")
        return tuple(r for e in entries for r in parse_rule(e, roles_claim=roles_claim))

    def hook(name: str) -> Callable[..., Any] | None:
        spec = table.get(name)
        if spec is None:
            return None
        if not isinstance(spec, str):
            raise HubUsageError(f"collections.{coll}.access.{name} must be 'module:function'")
        return load_callable(spec, f"collections.{coll}.access.{name}")

    return CollectionAccess(rules("read"), rules("write"), hook("row_filter"), hook("write_check"))


def policy_from_config(
    collections: Mapping[str, Mapping[str, Any]], *, roles_claim: str = "roles"
) -> AccessPolicy:
    """Build the policy from the ``[collections]`` table (each collection's ``access`` subtable)."""
    compiled: dict[str, CollectionAccess] = {}
    for name, table in collections.items():
        access = table.get("access", {}) if isinstance(table, Mapping) else None
        if not isinstance(access, Mapping):
            raise HubUsageError(f"collections.{name}.access must be a table")
        compiled[name] = compile_access(access, coll=name, roles_claim=roles_claim)
    return AccessPolicy(compiled)


_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "[::1]"})
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def normalize_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` lower-cased without a default port, or None if not an origin."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


def origin_allowed(
    origin: str | None, allowed: Collection[str], *, host: str | None, dev: bool = False
) -> bool:
    """The WebSocket ``Origin`` check (against cross-site WebSocket hijacking), decided before
    anything is read from the socket.

    Args:
        origin: The ``Origin`` header; None for non-browser clients (browsers always send it),
            which are allowed: they carry their own credentials and cannot be hijacked.
        allowed: Exact origins from the config (``https://app.example.com``). No wildcards.
            When empty, only the hub's own origin (``Origin`` host equal to ``host``) passes.
        host: The request's ``Host`` header.
        dev: Also allow ``http(s)://localhost``, ``127.0.0.1`` and ``[::1]`` on any port.
    """
    if origin is None:
        return True
    normalized = normalize_origin(origin)  # "null" (sandboxed frames, file://) fails here
    if normalized is None:
        return False
    if allowed:
        if normalized in {normalize_origin(a) for a in allowed}:
            return True
    elif host is not None and normalized.split("://", 1)[1] == _strip_default_port(host.lower(), normalized):
        return True
    hostname = urlsplit(normalized).hostname or ""
    return dev and (hostname in _LOCAL_HOSTS or f"[{hostname}]" in _LOCAL_HOSTS)


def _strip_default_port(host: str, origin: str) -> str:
    scheme = origin.split("://", 1)[0]
    suffix = f":{_DEFAULT_PORTS[scheme]}"
    return host[: -len(suffix)] if host.endswith(suffix) else host
