"""hub.server.authflow: authentication, refresh and expiry of one connection, without a socket."""

from __future__ import annotations

from typing import Any

import pytest

from hub.auth.identity import Identity
from hub.authz import policy_from_config
from hub.core import messages as m
from hub.core.errors import CloseCode, ErrorCode, HubError, TokenExpired, Unauthorized
from hub.metrics import HubMetrics
from hub.server.authflow import AuthFlow, Refresh, Refused

ALICE = Identity("alice", {"sub": "alice", "roles": ["reader"]}, 1_000.0)


class FakeAuthenticator:
    """token -> the Identity to return or the exception to raise."""

    def __init__(self, answers: dict[str | None, Identity | BaseException]) -> None:
        self.answers = answers
        self.seen: list[tuple[str | None, float]] = []

    async def authenticate(self, token: str | None, *, now_s: float) -> Identity:
        self.seen.append((token, now_s))
        answer = self.answers[token]
        if isinstance(answer, BaseException):
            raise answer
        return answer


class Clock:
    def __init__(self, now: float = 500.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingFlow(AuthFlow):
    """An AuthFlow that shows the keys it claimed (AuthFlow has slots; a subclass has a dict)."""

    claimed: list[str]


def flow(answers: dict[str | None, Identity | BaseException], *, room: bool = True) -> RecordingFlow:
    policy = policy_from_config(
        {
            "todos": {"access": {"read": ["role:reader"]}},
            "notes": {"access": {"row_filter": "tests.support.acl:owner_only"}},
            "public": {},
        }
    )
    claimed: list[str] = []

    def claim(key: str) -> bool:
        claimed.append(key)
        return room

    f = RecordingFlow(
        FakeAuthenticator(answers), policy, HubMetrics(), now_s=Clock(), claim=claim, address="10.0.0.7"
    )
    f.claimed = claimed
    return f


def counted(f: AuthFlow, sample: str) -> bool:
    return any(line.startswith(sample) for line in f.metrics.render().splitlines())


async def test_hello_token_accepted_claims_the_subject() -> None:
    f = flow({"tok": ALICE})
    assert await f.authenticate("tok") == ALICE
    assert f.identity == ALICE
    assert f.claimed == ["sub:alice"]
    assert f.authenticator.seen == [("tok", 500.0)]


async def test_anonymous_clients_are_counted_by_address() -> None:
    f = flow({None: Identity("anonymous", anonymous=True)})
    assert isinstance(await f.authenticate(None), Identity)
    assert f.claimed == ["addr:10.0.0.7"]


@pytest.mark.parametrize(
    ("error", "code", "reason", "label"),
    [
        (Unauthorized("bad_signature"), CloseCode.UNAUTHORIZED, "bad_signature", "bad_signature"),
        (TokenExpired(), CloseCode.TOKEN_EXPIRED, "expired", "expired"),
        (HubError("hook timed out"), CloseCode.INTERNAL_ERROR, "authentication unavailable", "error"),
        (RuntimeError("bug"), CloseCode.INTERNAL_ERROR, "internal error", "error"),
    ],
)
async def test_hello_token_refused(error: Exception, code: int, reason: str, label: str) -> None:
    f = flow({"tok": error})
    assert await f.authenticate("tok") == Refused(code, reason)
    assert f.identity is None and f.claimed == []
    assert counted(f, f'synchub_auth_failures_total{{reason="{label}"}} 1')


async def test_too_many_connections_for_the_subject() -> None:
    f = flow({"tok": ALICE}, room=False)
    assert await f.authenticate("tok") == Refused(CloseCode.TOO_MANY_CONNECTIONS, "too many connections")
    assert f.identity is None
    assert counted(f, 'synchub_rate_limited_total{kind="connections"} 1')


async def test_refresh_refused_keeps_the_old_token() -> None:
    f = flow({"tok": ALICE, "bad": Unauthorized("expired"), "down": OSError("x")})
    await f.authenticate("tok")
    assert await f.refresh("bad", ["todos"]) == Refresh(m.error(ErrorCode.UNAUTHORIZED, "expired"))
    assert await f.refresh("down", ["todos"]) == Refresh(m.error(ErrorCode.UNAUTHORIZED, "unavailable"))
    assert f.identity == ALICE


async def test_refresh_naming_another_subject_closes() -> None:
    f = flow({"tok": ALICE, "bob": Identity("bob", {"sub": "bob"})})
    await f.authenticate("tok")
    outcome = await f.refresh("bob", [])
    assert outcome == Refresh(None, (CloseCode.UNAUTHORIZED, "subject_changed"))
    assert f.identity == ALICE
    assert counted(f, 'synchub_auth_failures_total{reason="subject_changed"} 1')


async def test_refresh_rechecks_the_subscriptions() -> None:
    demoted = Identity("alice", {"sub": "alice", "roles": []}, 2_000.0)
    f = flow({"tok": ALICE, "new": demoted})
    await f.authenticate("tok")
    outcome = await f.refresh("new", ["todos", "notes", "public"])
    assert outcome == Refresh(m.authed(2000), None, ("todos",), ("notes",))
    assert f.identity == demoted


async def test_renewed_token_changes_nothing() -> None:
    renewed = Identity("alice", {**ALICE.claims, "exp": 3_000}, None)
    f = flow({"tok": ALICE, "new": renewed})
    await f.authenticate("tok")
    assert await f.refresh("new", ["todos", "notes"]) == Refresh(m.authed(None))


async def test_expiry_follows_the_clock() -> None:
    f = flow({"tok": ALICE, "forever": Identity("alice", {"sub": "alice"})})
    assert not f.expired()  # nobody authenticated yet
    await f.authenticate("tok")
    clock: Any = f.now_s
    assert not f.expired()
    clock.now = 1_000.0
    assert f.expired()
    await f.refresh("forever", [])
    assert not f.expired()


async def test_refresh_before_authentication_is_a_bug() -> None:
    with pytest.raises(AssertionError):
        await flow({}).refresh("tok", [])
