from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from hub.logs import (
    REDACTED,
    JsonFormatter,
    RedactFilter,
    RepeatFilter,
    bind,
    context_fields,
    is_secret_key,
    log_context,
    redact,
    redact_text,
    setup_logging,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl"


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("synchub.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_object_per_line(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    logger.info("hello %s", "world", extra={"code": 4010, "multi": "a\nb"})
    logger.warning("second")
    first, second = lines(stream)
    assert first["msg"] == "hello world"
    assert first["level"] == "info" and second["level"] == "warning"
    assert first["logger"] == "synchub.test.logs"
    assert first["code"] == 4010 and first["multi"] == "a\nb"
    assert first["ts"].endswith("+00:00") and "T" in first["ts"]


def test_context_fields(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    with log_context(conn="c1"):
        with log_context(req=7):
            logger.info("inner")
        logger.info("outer")
    logger.info("none")
    inner, outer, none = lines(stream)
    assert (inner["conn"], inner["req"]) == ("c1", 7)
    assert outer["conn"] == "c1" and "req" not in outer
    assert "conn" not in none
    assert context_fields() == {}


async def test_context_is_per_task(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture

    async def connection(conn_id: str) -> None:
        bind(conn=conn_id, sub="user-" + conn_id)
        await asyncio.sleep(0)
        logger.info("frame")

    await asyncio.gather(connection("a"), connection("b"))
    got = sorted((line["conn"], line["sub"]) for line in lines(stream))
    assert got == [("a", "user-a"), ("b", "user-b")]
    assert context_fields() == {}


def test_secrets_and_payloads_never_logged(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    logger.info(
        "hello from %s",
        {"client": "c1", "token": JWT, "nested": {"Authorization": "Bearer x"}},
        extra={
            "token": JWT,
            "doc": {"title": "private"},
            "changes": [["id", 1, {"secret": 1}]],
            "refresh_token": "r",
            "Set-Cookie": "sid=1",
            "frame": b"\x81\x00",
            "url": f"/sync?token={JWT}&x=1",
            "note": f"got {JWT} in text",
            "subject": "alice",
        },
    )
    text = stream.getvalue()
    assert JWT not in text and "private" not in text and "Bearer x" not in text and "sid=1" not in text
    (line,) = lines(stream)
    assert line["token"] == line["doc"] == line["changes"] == line["refresh_token"] == REDACTED
    assert line["Set-Cookie"] == line["frame"] == REDACTED
    assert line["url"] == f"/sync?token={REDACTED}&x=1"
    assert line["note"] == f"got {REDACTED} in text"
    assert line["subject"] == "alice"
    assert "'client': 'c1'" in line["msg"]


def test_jwt_in_message_and_exception(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    try:
        raise ValueError(f"bad token {JWT}")
    except ValueError:
        logger.exception("auth failed for " + JWT)
    (line,) = lines(stream)
    assert JWT not in json.dumps(line)
    assert "ValueError" in line["exc"]


def test_formatter_redacts_without_the_filter() -> None:
    record = logging.makeLogRecord({"msg": "x", "token": JWT, "payload": {"a": 1}, "obj": object()})
    line = json.loads(JsonFormatter().format(record))
    assert line["token"] == REDACTED and line["payload"] == REDACTED
    assert line["obj"].startswith("<object")
    with log_context(authorization="Bearer abc"):
        assert json.loads(JsonFormatter().format(record))["authorization"] == REDACTED


def test_mapping_args_redacted() -> None:
    record = logging.makeLogRecord({"msg": "%(token)s %(user)s", "args": None})
    record.args = {"token": JWT, "user": "alice"}
    RedactFilter().filter(record)
    assert record.getMessage() == f"{REDACTED} alice"


def test_helpers() -> None:
    assert is_secret_key("Access-Token") and is_secret_key("api_secret") and is_secret_key("PASSWORD")
    assert not is_secret_key("subject") and not is_secret_key("code")
    assert redact_text("https://h/sync?access_token=abc") == f"https://h/sync?access_token={REDACTED}"
    deep: Any = "x"
    for _ in range(10):
        deep = {"k": deep}
    assert REDACTED in json.dumps(redact(deep))
    assert redact((1, "a")) == [1, "a"]
    assert redact({"bin": b"\x00\x01"}) == {"bin": "<2 bytes>"}


def test_bad_format_string_is_left_to_logging() -> None:
    record = logging.makeLogRecord({"msg": "%d items", "args": ("many",)})
    assert RedactFilter().filter(record)
    assert record.args == ("many",)


def test_stack_info_and_cached_exc_text() -> None:
    record = logging.makeLogRecord({"msg": "x", "stack_info": "Stack (most recent call last)"})
    record.exc_text = f"Traceback: {JWT}"
    line = json.loads(JsonFormatter().format(record))
    assert line["stack"].startswith("Stack") and line["exc"] == f"Traceback: {REDACTED}"


def test_setup_logging_routes_everything_through_one_handler() -> None:
    root = logging.getLogger()
    before = list(root.handlers), root.level
    stream = io.StringIO()
    try:
        setup_logging("DEBUG", stream=stream)
        setup_logging("DEBUG", stream=stream)  # idempotent: one handler
        assert sum(h.get_name() == "synchub" for h in root.handlers) == 1
        logging.getLogger("uvicorn.access").info('"WebSocket /sync?token=%s" [accepted]', JWT)
        (line,) = lines(stream)
        assert JWT not in line["msg"] and line["logger"] == "uvicorn.access"

        plain = io.StringIO()
        setup_logging("INFO", json_lines=False, stream=plain)
        logging.getLogger("synchub.x").info("hi %s", {"token": "t0ken"})
        assert "t0ken" not in plain.getvalue() and "INFO synchub.x: hi" in plain.getvalue()
    finally:
        for handler in list(root.handlers):
            if handler.get_name() == "synchub":
                root.removeHandler(handler)
        for handler in before[0]:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(before[1])


def test_repeated_pyignite_reconnect_failures_are_held_back_and_counted() -> None:
    """While a node is down pyignite logs every failed reconnect (with its traceback) about 20 times
    a second: one a window per node goes through, the next one says how many were held back."""
    now = [0.0]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RepeatFilter(window_s=30.0, clock=lambda: now[0]))
    handler.addFilter(RedactFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("pyignite.connection.test")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    other = logging.getLogger("synchub.test.repeat")
    other.addHandler(handler)
    other.propagate = False
    msg = "Failed to perform handshake, connection to node(address=%s, port=%d) failed: %s"
    try:
        for i in range(100):  # 5 s of failures of node 10800, a few of node 10801
            now[0] = i * 0.05
            logger.error(msg, "127.0.0.1", 10800, f"refused {i}")
            if i % 10 == 0:
                logger.error(msg, "127.0.0.1", 10801, "refused")
            other.error("not pyignite: %s", i)  # never held back
        now[0] = 31.0
        logger.error(msg, "127.0.0.1", 10800, "refused again")
        logger.error(msg, "127.0.0.1", 10801, "refused again")
        out = lines(stream)
    finally:
        logger.removeHandler(handler)
        other.removeHandler(handler)
    ours = [r for r in out if r["logger"] == "pyignite.connection.test"]
    assert [(r["msg"].split("port=")[1][:5], r.get("suppressed")) for r in ours] == [
        ("10800", None),
        ("10801", None),
        ("10800", 99),
        ("10801", 9),
    ]
    assert sum(r["logger"] == "synchub.test.repeat" for r in out) == 100
