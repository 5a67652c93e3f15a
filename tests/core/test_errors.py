"""hub.core.errors: the error tree, close codes and the retry rule."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import hub.core.errors as errors_module
from hub.core.errors import (
    BadFrame,
    BadMessage,
    ClientProtocolError,
    CloseCode,
    ErrorCode,
    FrameTooLarge,
    GoingAway,
    HubError,
    HubUsageError,
    IdleTimeout,
    OriginNotAllowed,
    RateLimited,
    StoreUnavailable,
    TokenExpired,
    TooManyConnections,
    Unauthorized,
    UnexpectedMessage,
    UnknownType,
    UnsupportedVersion,
    is_retryable,
)

PROTOCOL_MD = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"

ALL_ERRORS = [
    obj
    for _, obj in inspect.getmembers(errors_module, inspect.isclass)
    if issubclass(obj, HubError) and obj.__module__ == errors_module.__name__
]


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (HubError, CloseCode.INTERNAL_ERROR),
        (ClientProtocolError, CloseCode.BAD_MESSAGE),
        (BadFrame, CloseCode.BAD_FRAME),
        (BadMessage, CloseCode.BAD_MESSAGE),
        (UnsupportedVersion, CloseCode.UNSUPPORTED_VERSION),
        (UnexpectedMessage, CloseCode.UNEXPECTED_MESSAGE),
        (UnknownType, CloseCode.UNKNOWN_TYPE),
        (FrameTooLarge, CloseCode.FRAME_TOO_LARGE),
        (Unauthorized, CloseCode.UNAUTHORIZED),
        (TokenExpired, CloseCode.TOKEN_EXPIRED),
        (OriginNotAllowed, CloseCode.ORIGIN_NOT_ALLOWED),
        (RateLimited, CloseCode.RATE_LIMITED),
        (TooManyConnections, CloseCode.TOO_MANY_CONNECTIONS),
        (IdleTimeout, CloseCode.IDLE_TIMEOUT),
        (HubUsageError, CloseCode.INTERNAL_ERROR),
        (StoreUnavailable, CloseCode.STORE_UNAVAILABLE),
        (GoingAway, CloseCode.GOING_AWAY),
    ],
)
def test_close_code_per_class(cls: type[HubError], code: CloseCode) -> None:
    assert cls.close_code == code


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.__name__)
def test_every_error_closes_with_a_known_code(cls: type[HubError]) -> None:
    assert cls.close_code in set(CloseCode)
    assert 4000 <= cls.close_code <= 4999


@pytest.mark.parametrize(
    "cls", [BadFrame, BadMessage, UnsupportedVersion, UnexpectedMessage, UnknownType, FrameTooLarge]
)
def test_protocol_errors_blame_the_peer_and_are_final(cls: type[ClientProtocolError]) -> None:
    assert issubclass(cls, ClientProtocolError)
    assert 4000 <= cls.close_code < 4500
    assert not is_retryable(cls.close_code)


def test_retry_split() -> None:
    retry: list[type[HubError]] = [
        StoreUnavailable,
        GoingAway,
        TokenExpired,
        RateLimited,
        TooManyConnections,
        IdleTimeout,
    ]
    final: list[type[HubError]] = [Unauthorized, OriginNotAllowed, BadMessage]
    assert all(is_retryable(c.close_code) for c in retry)
    assert not any(is_retryable(c.close_code) for c in final)


@pytest.mark.parametrize(
    ("code", "retry"),
    [(1000, True), (1011, True), (3999, True), (4000, False), (4499, False), (4500, True), (4999, True)],
)
def test_is_retryable_ranges(code: int, retry: bool) -> None:
    assert is_retryable(code) is retry


def test_hub_error_keeps_its_message() -> None:
    err = BadMessage("missing field seq")
    assert err.message == "missing field seq"
    assert str(err) == "missing field seq"
    assert HubError().message == ""


def test_frame_too_large_carries_data() -> None:
    err = FrameTooLarge(2_000_000, 1_048_576)
    assert (err.size, err.limit) == (2_000_000, 1_048_576)
    assert str(err) == "frame of 2000000 bytes exceeds the limit of 1048576"
    with pytest.raises(ClientProtocolError):
        raise err


def test_unauthorized_reason_and_detail() -> None:
    err = Unauthorized()
    assert (err.reason, err.detail, err.message) == ("unauthorized", "", "unauthorized")
    err = Unauthorized("bad_signature", "kid=3 not found")
    assert (err.reason, err.detail, str(err)) == ("bad_signature", "kid=3 not found", "bad_signature")


def test_token_expired_is_an_unauthorized_that_may_retry() -> None:
    err = TokenExpired("exp=1700000000")
    assert isinstance(err, Unauthorized)
    assert (err.reason, err.detail) == ("expired", "exp=1700000000")
    assert TokenExpired().detail == ""


def test_errors_carrying_data() -> None:
    origin = OriginNotAllowed("https://evil.example")
    assert (origin.origin, origin.message) == ("https://evil.example", "origin not allowed")
    assert OriginNotAllowed(None).origin is None
    limited = RateLimited("mutations")
    assert (limited.kind, str(limited)) == ("mutations", "rate limited (mutations)")
    many = TooManyConnections(8)
    assert (many.limit, str(many)) == (8, "more than 8 connections for this user")


def test_error_codes() -> None:
    assert ErrorCode.INVALID_MUTATION.value == 4001
    assert ErrorCode.FORBIDDEN.value == 4403
    assert ErrorCode.UNKNOWN_COLLECTION.value == 4404


def test_close_codes_match_the_protocol_doc() -> None:
    """Every CloseCode is in the close-code table of docs/protocol.md under its name, and every
    documented synchub code (4000-4999) is a CloseCode. Standard WebSocket codes (1xxx) may be
    documented without a CloseCode member."""
    section = PROTOCOL_MD.read_text().split("## Close codes", 1)[1]
    rows = re.findall(r"^\| (\d{4}) \| (\w+) \|", section, flags=re.MULTILINE)
    documented = {name.upper(): int(code) for code, name in rows}
    assert {c.name: int(c) for c in CloseCode}.items() <= documented.items()
    for name, code in documented.items():
        if 4000 <= code <= 4999:
            assert CloseCode[name] == code
