"""Structured logging: one JSON object per line, with the connection context and no secrets.

- :func:`log_context` binds fields (``conn``, ``req``, ``sub``...) for the current task; asyncio
  copies the context into tasks created inside it, so bind ``conn`` once per connection.
- :class:`JsonFormatter` writes ``ts``, ``level``, ``logger``, ``msg``, the bound fields, the
  ``extra={...}`` fields and ``exc``.
- :class:`RedactFilter` (installed on the handler by :func:`setup_logging`) replaces the values
  of secret or payload keys (:data:`REDACTED_KEYS`) in extras and mapping arguments, and any
  JWT-looking string or ``token=`` query parameter in messages, with ``"[redacted]"``.

Policy: log connects, closes with their code, auth failures (reason only), rate-limit trips and
store errors; never tokens, cookies, claims, documents or frames.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import re
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any, Final

REDACTED: Final = "[redacted]"
#: Keys whose values are never logged (compared lower-case, ``-`` read as ``_``).
REDACTED_KEYS: Final = frozenset(
    "token access_token refresh_token id_token authorization cookie set_cookie password secret"
    " claims doc docs document payload changes batch frame body".split()
)
_SUFFIXES: Final = ("_token", "_secret", "_password")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
_QUERY = re.compile(r"(?i)([?&](?:access_|id_)?token=)[^&\s\"']+")
_MAX_DEPTH = 6

# Attributes every LogRecord has; anything else came from ``extra=``.
_STANDARD: Final = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}

_context: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "synchub_log", default=None
)


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every record logged in this context (nested calls merge)."""
    current = _context.get() or {}
    token = _context.set({**current, **fields})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add ``fields`` to the current context until it ends (for a connection task's whole life)."""
    _context.set({**(_context.get() or {}), **fields})


def context_fields() -> Mapping[str, Any]:
    return _context.get() or {}


def is_secret_key(key: str) -> bool:
    k = key.lower().replace("-", "_")
    return k in REDACTED_KEYS or k.endswith(_SUFFIXES)


def redact_text(text: str) -> str:
    """Mask JWT-looking strings and ``token=`` query parameters."""
    return _QUERY.sub(r"\1" + REDACTED, _JWT.sub(REDACTED, text))


def redact(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with secret keys masked, recursively (mappings, lists, strings)."""
    if depth > _MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): REDACTED if is_secret_key(str(k)) else redact(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, depth + 1) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    return value


class RedactFilter(logging.Filter):
    """Masks secrets in a record in place (so every handler sees the masked record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Merge the arguments first (masked), then mask the merged text: masking the format
        # string alone could eat a placeholder ("?token=%s").
        if isinstance(record.args, Mapping):
            record.args = redact(record.args)
        elif isinstance(record.args, tuple):
            record.args = tuple(redact(a) for a in record.args)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler's error reporting
            return True
        record.msg = redact_text(message)
        record.args = None
        for key in [k for k in record.__dict__ if k not in _STANDARD]:
            value = record.__dict__[key]
            record.__dict__[key] = REDACTED if is_secret_key(key) else redact(value)
        return True


class RepeatFilter(logging.Filter):
    """One record a ``window_s`` per repeating pyignite message and node: while a node is down,
    pyignite logs each failed reconnect with its traceback, about 20 a second. The record let
    through next says how many were held back (``suppressed``)."""

    def __init__(self, window_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window_s = window_s
        self.clock = clock
        self._last: OrderedDict[tuple[Any, ...], list[float]] = OrderedDict()  # key -> [time, held]

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("pyignite"):
            return True
        # the message template and its first two arguments (pyignite's address and port)
        args = record.args[:2] if isinstance(record.args, tuple) else ()
        key = (record.name, record.levelno, str(record.msg), *map(str, args))
        now = self.clock()
        seen = self._last.get(key)
        if seen is not None and now - seen[0] < self.window_s:
            seen[1] += 1
            return False
        if seen is not None and seen[1]:
            record.suppressed = int(seen[1])
        self._last[key] = [now, 0]
        self._last.move_to_end(key)
        while len(self._last) > 256:  # bounded whatever the messages
            self._last.popitem(last=False)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC, ms), ``level``, ``logger``, ``msg``, context fields,
    extras, ``exc``. Extras are redacted here too, in case the filter is not installed."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact_text(record.getMessage()),
        }
        for key, value in context_fields().items():
            out.setdefault(key, REDACTED if is_secret_key(key) else redact(value))
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in out and key != "color_message":  # uvicorn ANSI copy
                out[key] = REDACTED if is_secret_key(key) else redact(value)
        if record.exc_info:
            out["exc"] = redact_text(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exc"] = redact_text(record.exc_text)
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, default=repr, ensure_ascii=False, separators=(",", ":"))


_HANDLER_NAME: Final = "synchub"


def setup_logging(
    level: int | str = "INFO", *, json_lines: bool = True, stream: IO[str] | None = None
) -> None:
    """Send every log record (the hub's, uvicorn's, pyignite's) through one redacting handler.

    Replaces a handler installed by an earlier call, keeps others. Run uvicorn with
    ``log_config=None`` so its loggers propagate here.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RepeatFilter())  # first: it keys on the message template, before it is merged
    handler.addFilter(RedactFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)  # the root level decides (uvicorn may have set its own)
