from __future__ import annotations

import sys
import tomllib
import types
from collections.abc import Mapping
from typing import Any

import pytest

from hub.auth.identity import Identity
from hub.authz import (
    AccessPolicy,
    CollectionAccess,
    Rule,
    compile_access,
    normalize_origin,
    origin_allowed,
    parse_rule,
    policy_from_config,
)
from hub.core.errors import HubUsageError
from hub.core.types import Change

ALICE = Identity("alice", {"sub": "alice", "roles": ["reader"], "scope": "todos.read profile"})
BOB = Identity("bob", {"sub": "bob", "roles": "editor admin", "realm_access": {"roles": ["ops"]}})
ANON = Identity("anonymous", anonymous=True)


def owner_only(identity: Identity, doc_id: str, doc: Mapping[str, Any]) -> bool:
    return doc.get("owner") == identity.subject


def only_admins_delete(
    identity: Identity, doc_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> bool:
    return new is not None or "admin" in identity.claims.get("roles", "")


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> str:
    module = types.ModuleType("fake_acl")
    module.owner_only = owner_only  # type: ignore[attr-defined]
    module.only_admins_delete = only_admins_delete  # type: ignore[attr-defined]

    def boom(*args: Any) -> bool:
        raise RuntimeError("hook bug")

    module.boom = boom  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_acl", module)
    return "fake_acl"


CONFIG = """
[collections.todos.access]
read = ["role:reader", "role:editor"]
write = ["role:editor", "sub:alice"]

[collections.public.access]
read = ["*"]
write = []

[collections.notes.access]
read = ["authenticated"]
write = ["authenticated"]
row_filter = "fake_acl:owner_only"

[collections.posts.access]
read = ["authenticated"]
write = ["authenticated"]
row_filter = "fake_acl:owner_only"
write_check = "fake_acl:only_admins_delete"

[collections.plain]
cache = "PLAIN"
"""


@pytest.fixture
def policy(hooks: str) -> AccessPolicy:
    return policy_from_config(tomllib.loads(CONFIG)["collections"])


def ch(doc_id: str, ver: int, owner: str | None) -> Change:
    return Change(doc_id, ver, None if owner is None else {"owner": owner, "title": doc_id})


# ------------------------------------------------------------------------------------- rules


@pytest.mark.parametrize(
    ("entry", "identity", "expected"),
    [
        ("*", ANON, True),
        ("authenticated", ANON, False),
        ("authenticated", ALICE, True),
        ("sub:alice", ALICE, True),
        ("sub:alice", BOB, False),
        ("sub:anonymous", ANON, False),
        ("role:reader", ALICE, True),
        ("role:admin", BOB, True),  # space-separated string claim
        ("role:admi", BOB, False),  # no substring matches
        ("scope:todos.read", ALICE, True),
        ("scope:todos", ALICE, False),
        ("claim:realm_access.roles=ops", BOB, True),
        ("claim:realm_access.roles=ops", ALICE, False),
        ("claim:sub=alice", ALICE, True),
    ],
)
def test_rule_matching(entry: str, identity: Identity, expected: bool) -> None:
    assert any(rule.matches(identity) for rule in parse_rule(entry)) is expected


def test_scope_also_reads_scp_and_bool_claims() -> None:
    azure = Identity("u", {"scp": "todos.read"})
    assert any(r.matches(azure) for r in parse_rule("scope:todos.read"))
    verified = Identity("u", {"email_verified": True, "n": 3})
    assert parse_rule("claim:email_verified=true")[0].matches(verified)
    assert not parse_rule("claim:email_verified=false")[0].matches(verified)
    assert not parse_rule("claim:n=3")[0].matches(verified)  # numbers never match


def test_roles_claim_path() -> None:
    rules = parse_rule("role:ops", roles_claim="realm_access.roles")
    assert rules == [Rule("claim", ("realm_access", "roles"), "ops")]
    assert rules[0].matches(BOB)


@pytest.mark.parametrize(
    "entry", ["", "admin", "role:", "role", "claim:roles", "claim:=x", "claim:a..b=x", "any", 3, None]
)
def test_bad_rules_are_config_errors(entry: object) -> None:
    with pytest.raises(HubUsageError):
        parse_rule(entry)


def test_compile_access_errors(hooks: str) -> None:
    with pytest.raises(HubUsageError, match="unknown key"):
        compile_access({"reed": ["*"]}, coll="c")
    with pytest.raises(HubUsageError, match="must be a list"):
        compile_access({"read": "*"}, coll="c")
    with pytest.raises(HubUsageError, match="module:function"):
        compile_access({"row_filter": 3}, coll="c")
    with pytest.raises(HubUsageError, match="cannot import"):
        compile_access({"row_filter": "no_such_acl_module:f"}, coll="c")
    with pytest.raises(HubUsageError, match="must be a table"):
        policy_from_config({"c": {"access": ["*"]}})


# -------------------------------------------------------------------------- collection level


def test_collection_permissions(policy: AccessPolicy) -> None:
    assert policy.can_read(ALICE, "todos") and policy.can_read(BOB, "todos")
    assert not policy.can_read(ANON, "todos")
    assert policy.can_write(ALICE, "todos") and policy.can_write(BOB, "todos")
    assert policy.can_read(ANON, "public") and not policy.can_write(BOB, "public")
    # default: authenticated users read and write; anonymous nothing
    assert policy.can_read(ALICE, "plain") and policy.can_write(ALICE, "plain")
    assert not policy.can_read(ANON, "plain") and not policy.can_write(ANON, "unlisted")
    nobody = Identity("carol", {"sub": "carol"})
    assert not policy.can_read(nobody, "todos")
    assert policy.visible(nobody, "todos", "t1", {"x": 1}) is False


# --------------------------------------------------------------------------------- row level


def test_visible_and_readable_doc(policy: AccessPolicy) -> None:
    mine, theirs = {"owner": "alice"}, {"owner": "bob"}
    assert policy.visible(ALICE, "notes", "n1", mine)
    assert not policy.visible(ALICE, "notes", "n2", theirs)
    assert policy.visible(ALICE, "notes", "n2", None)  # tombstones go to every reader
    assert not policy.visible(ANON, "notes", "n2", None)
    assert policy.readable_doc(ALICE, "notes", "n1", mine) == mine
    assert policy.readable_doc(ALICE, "notes", "n2", theirs) is None
    assert policy.readable_doc(ALICE, "notes", "n2", None) is None
    assert policy.visible(ALICE, "todos", "t", theirs)  # no row filter


def test_hook_exceptions_fail_closed(hooks: str, caplog: pytest.LogCaptureFixture) -> None:
    access = compile_access({"row_filter": "fake_acl:boom", "write_check": "fake_acl:boom"}, coll="c")
    policy = AccessPolicy({"c": access})
    assert not policy.visible(ALICE, "c", "d", {"owner": "alice"})
    assert not policy.check_write(ALICE, "c", "d", None, {"owner": "alice"})
    assert "failed; denying" in caplog.text


def test_check_write_with_row_filter_only(policy: AccessPolicy) -> None:
    mine, theirs = {"owner": "alice"}, {"owner": "bob"}
    assert policy.check_write(ALICE, "notes", "n", None, mine)  # create own
    assert policy.check_write(ALICE, "notes", "n", mine, mine)  # update own
    assert policy.check_write(ALICE, "notes", "n", mine, None)  # delete own
    assert not policy.check_write(ALICE, "notes", "n", theirs, mine)  # overwrite someone else's
    assert not policy.check_write(ALICE, "notes", "n", None, theirs)  # create for someone else
    assert not policy.check_write(ALICE, "notes", "n", mine, theirs)  # give away
    assert not policy.check_write(ANON, "notes", "n", None, None)


def test_check_write_with_write_check(policy: AccessPolicy) -> None:
    mine = {"owner": "alice"}
    assert policy.check_write(ALICE, "posts", "p", {"owner": "bob"}, mine)  # the hook decides
    assert not policy.check_write(ALICE, "posts", "p", mine, None)
    assert policy.check_write(BOB, "posts", "p", mine, None)
    assert not policy.check_write(BOB, "public", "p", None, mine)  # collection level first
    assert policy.check_write(ALICE, "todos", "t", None, mine)


# ---------------------------------------------------------------------------------- filtering


def test_filter_changes_without_row_filter(policy: AccessPolicy) -> None:
    changes = [ch("a", 1, "bob"), ch("b", 2, None)]
    assert policy.filter_changes(ALICE, "todos", changes) == changes
    assert policy.filter_changes(ANON, "todos", changes) == []


def test_filter_changes_delta_turns_invisible_puts_into_tombstones(policy: AccessPolicy) -> None:
    changes = [ch("a", 1, "alice"), ch("b", 2, "bob"), ch("c", 3, None)]
    assert policy.filter_changes(ALICE, "notes", changes) == [
        ch("a", 1, "alice"),
        Change("b", 2, None),  # alice may hold an older visible version of b
        Change("c", 3, None),
    ]


def test_filter_changes_snapshot_leaves_invisible_out(policy: AccessPolicy) -> None:
    changes = [ch("a", 1, "alice"), ch("b", 2, "bob")]
    assert policy.filter_changes(ALICE, "notes", changes, mode="snapshot") == [ch("a", 1, "alice")]


def test_filter_changes_uses_previous_versions(policy: AccessPolicy) -> None:
    changes = [ch("b", 2, "bob"), ch("d", 3, "bob"), ch("e", 4, "bob"), ch("e", 5, "carol")]
    before = {"b": {"owner": "bob"}, "d": {"owner": "alice"}, "e": None}
    assert policy.filter_changes(ALICE, "notes", changes, before=before) == [
        Change("d", 3, None)  # d was alice's: she must drop it; b and e were never hers
    ]
    # within one batch the previous version is the earlier change
    moved = [ch("f", 1, "alice"), ch("f", 2, "bob")]
    assert policy.filter_changes(ALICE, "notes", moved, before={"f": None}) == [
        ch("f", 1, "alice"),
        Change("f", 2, None),
    ]


def test_fanout_without_row_filter_is_one_group_with_the_same_list(policy: AccessPolicy) -> None:
    changes = [ch("a", 1, "bob")]
    groups = policy.fanout("todos", changes, [(1, ALICE), (2, BOB), (3, ANON)])
    assert len(groups) == 1
    subs, filtered = groups[0]
    assert subs == [1, 2] and filtered is changes
    assert policy.fanout("todos", [], [(1, ALICE)]) == []


def test_fanout_groups_by_visible_changes(policy: AccessPolicy) -> None:
    calls: list[str] = []
    base = policy.access("notes")
    assert base.row_filter is not None
    inner = base.row_filter

    def counting(identity: Identity, doc_id: str, doc: Mapping[str, Any]) -> bool:
        calls.append(identity.subject)
        return inner(identity, doc_id, doc)

    policy.collections["notes"] = CollectionAccess(base.read, base.write, counting)
    alice2 = Identity("alice", {**ALICE.claims, "exp": 99, "jti": "other"}, 99.0)
    carol = Identity("carol", {"sub": "carol"})
    changes = [ch("a", 1, "alice"), ch("b", 2, "bob")]
    groups = policy.fanout(
        "notes",
        changes,
        [("a1", ALICE), ("b1", BOB), ("a2", alice2), ("c1", carol), ("x", ANON)],
        before={"a": None, "b": None},
    )
    result = {tuple(subs): list(filtered) for subs, filtered in groups}
    assert result == {("a1", "a2"): [ch("a", 1, "alice")], ("b1",): [ch("b", 2, "bob")]}
    # carol sees nothing (no group); hooks ran once per distinct identity, not per subscriber
    assert sorted(calls) == ["alice", "alice", "bob", "bob", "carol", "carol"]

    # without `before`, invisible puts become tombstones: everyone gets a frame, three distinct
    groups = policy.fanout("notes", changes, [("a1", ALICE), ("b1", BOB), ("c1", carol)])
    result = {tuple(subs): list(filtered) for subs, filtered in groups}
    assert result == {
        ("a1",): [ch("a", 1, "alice"), Change("b", 2, None)],
        ("b1",): [Change("a", 1, None), ch("b", 2, "bob")],
        ("c1",): [Change("a", 1, None), Change("b", 2, None)],
    }


def test_fanout_tombstones_shared(policy: AccessPolicy) -> None:
    changes = [ch("a", 1, None)]
    groups = policy.fanout("notes", changes, [(1, ALICE), (2, BOB)])
    assert groups == [([1, 2], [Change("a", 1, None)])]


# -------------------------------------------------------------------------------- auth refresh


def test_recheck_after_refresh(policy: AccessPolicy) -> None:
    demoted = Identity("alice", {"sub": "alice", "roles": []})
    renewed = Identity("alice", {**ALICE.claims, "exp": 123}, 123.0)
    result = policy.recheck(ALICE, demoted, ["todos", "notes", "public"])
    assert result.ended == ["todos"]
    assert result.resync == ["notes"]  # claims changed and notes is row-filtered
    same = policy.recheck(ALICE, renewed, ["todos", "notes"])
    assert same.ended == [] and same.resync == []


# ------------------------------------------------------------------------------------- origin


@pytest.mark.parametrize(
    ("origin", "allowed", "host", "dev", "expected"),
    [
        (None, [], "hub.example", False, True),  # not a browser
        ("https://app.example", ["https://app.example"], "hub.example", False, True),
        ("HTTPS://App.Example:443", ["https://app.example/"], "hub.example", False, True),
        ("https://app.example:8443", ["https://app.example"], "hub.example", False, False),
        ("https://evil.example", ["https://app.example"], "hub.example", False, False),
        ("https://app.example.evil", ["https://app.example"], "hub.example", False, False),
        ("null", ["https://app.example"], "hub.example", False, False),
        ("file://", [], "hub.example", True, False),
        ("https://hub.example", [], "hub.example", False, True),  # same origin by default
        ("https://hub.example", [], "hub.example:443", False, True),
        ("http://localhost:8000", [], "localhost:8000", False, True),
        ("https://hub.example", ["https://app.example"], "hub.example", False, False),  # list given
        ("https://evil.example", [], "hub.example", False, False),
        ("https://evil.example", [], None, False, False),
        ("http://localhost:5173", [], "hub.example", False, False),
        ("http://localhost:5173", [], "hub.example", True, True),
        ("http://127.0.0.1:3000", ["https://app.example"], "hub.example", True, True),
        ("http://[::1]:3000", [], "hub.example", True, True),
        ("http://localhost.evil.example", [], "hub.example", True, False),
        ("https://app.example/path", ["https://app.example"], "hub.example", False, False),
        ("https://app.example:notaport", ["https://app.example"], "hub.example", False, False),
    ],
)
def test_origin_allowed(
    origin: str | None, allowed: list[str], host: str | None, dev: bool, expected: bool
) -> None:
    assert origin_allowed(origin, allowed, host=host, dev=dev) is expected


def test_normalize_origin() -> None:
    assert normalize_origin("https://A.example:443") == "https://a.example"
    assert normalize_origin("http://a.example:8080") == "http://a.example:8080"
    assert normalize_origin("ws://a.example") is None
