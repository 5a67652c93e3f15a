"""hub.core stays pure: no I/O, no clock, no randomness, no awaits (house style §5.1).

Walks the AST of every module in ``hub/core`` instead of importing it, so a forbidden import
is caught even in a branch that never runs.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "hub" / "core"
MODULES = sorted(CORE.glob("*.py"))

# Standard-library modules a pure core may use: data structures, typing, hashing, encoding.
ALLOWED = frozenset(
    {
        "__future__",
        "abc",
        "base64",
        "binascii",
        "bisect",
        "collections",
        "copy",
        "dataclasses",
        "datetime",  # the types only; datetime.now() and friends are refused below
        "decimal",
        "enum",
        "functools",
        "hashlib",
        "heapq",
        "itertools",
        "math",
        "numbers",
        "operator",
        "re",
        "string",
        "struct",
        "types",
        "typing",
        "unicodedata",
        "uuid",  # the UUID type only; uuid1()/uuid4() are refused below
    }
)
# Named so that the failure message says why; none of these is in ALLOWED anyway.
FORBIDDEN = frozenset(
    {
        "asyncio",
        "socket",
        "selectors",
        "ssl",
        "threading",
        "multiprocessing",
        "concurrent",
        "subprocess",
        "time",
        "random",
        "secrets",
        "os",
        "io",
        "logging",
        "msgpack",
        "starlette",
        "websockets",
        "pyignite",
        "uvicorn",
        "anyio",
        "httpx",
    }
)
# Calls that read the clock, the environment or entropy: "<name>.<attr>" or a bare "<name>".
FORBIDDEN_CALLS = frozenset(
    {
        "datetime.now",
        "datetime.utcnow",
        "datetime.today",
        "date.today",
        "uuid.uuid1",
        "uuid.uuid4",
        "uuid1",
        "uuid4",
        "open",
        "input",
        "print",
        "breakpoint",
    }
)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def impurities(source: str, filename: str = "<core>") -> list[str]:
    """Every impurity in ``source`` as ``"line: what"``."""
    problems: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            for alias in node.names:
                problems += _check_module(alias.name, line)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 1:
                continue  # a sibling core module
            if node.level > 1:
                problems.append(f"{line}: relative import leaves hub.core ({'.' * node.level}{node.module})")
            else:
                problems += _check_module(node.module or "", line)
        elif isinstance(node, ast.AsyncFunctionDef | ast.Await | ast.AsyncFor | ast.AsyncWith):
            problems.append(f"{line}: {type(node).__name__}")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name is not None and _forbidden_call(name):
                problems.append(f"{line}: call to {name}()")
    return problems


def _forbidden_call(name: str) -> bool:
    if name in FORBIDDEN_CALLS or name.split(".", 1)[0] == "time":
        return True
    # datetime.datetime.now(), mod.uuid.uuid4(): match dotted entries as a suffix.
    return any("." in call and name.endswith("." + call) for call in FORBIDDEN_CALLS)


def _check_module(name: str, line: int) -> list[str]:
    top = name.split(".", 1)[0]
    if name == "hub.core" or name.startswith("hub.core."):
        return []
    if top in FORBIDDEN:
        return [f"{line}: forbidden import {name}"]
    if top not in ALLOWED:
        where = "stdlib module not allowed in the core" if top in sys.stdlib_module_names else "not stdlib"
        return [f"{line}: import {name} ({where})"]
    return []


def test_core_modules_are_found() -> None:
    names = {p.stem for p in MODULES}
    assert {"__init__", "errors", "hlc", "doc", "conflict", "dedup", "cursor", "mutation", "types"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_core_module_is_pure(path: Path) -> None:
    assert impurities(path.read_text(), str(path)) == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import asyncio", "forbidden import asyncio"),
        ("import os.path", "forbidden import os.path"),
        ("from time import monotonic", "forbidden import time"),
        ("import random", "forbidden import random"),
        ("import msgpack", "forbidden import msgpack"),
        ("from starlette.websockets import WebSocket", "forbidden import starlette.websockets"),
        ("import pyignite", "forbidden import pyignite"),
        ("import json", "stdlib module not allowed"),
        ("import attrs", "not stdlib"),
        ("from hub.store import base", "not stdlib"),
        ("from ..codec import encode", "relative import leaves hub.core"),
        ("async def f():\n    pass", "AsyncFunctionDef"),
        ("def f(x):\n    return (await x)", "Await"),
        ("x = datetime.now()", "call to datetime.now()"),
        ("x = datetime.datetime.now()", "call to datetime.datetime.now()"),
        ("x = date.today()", "call to date.today()"),
        ("x = time.time()", "call to time.time()"),
        ("x = uuid.uuid4()", "call to uuid.uuid4()"),
        ("print(1)", "call to print()"),
    ],
)
def test_checker_catches(source: str, found: str) -> None:
    problems = impurities(source)
    assert problems, source
    assert found in problems[0]


def test_checker_accepts_pure_code() -> None:
    source = (
        "from __future__ import annotations\n"
        "import hashlib\n"
        "from collections.abc import Mapping\n"
        "from datetime import datetime\n"
        "from hub.core.hlc import Hlc\n"
        "from . import doc\n"
        "from .errors import BadMessage\n"
        "def f(x: Mapping[str, int], now_ms: int) -> int:\n"
        "    return len(x) + now_ms + (lambda: 1)() + Hlc().now(now_ms)\n"
        "y = datetime.fromtimestamp(0)\n"
        "z = x[0]()\n"
        "w = y.open() + y.print()\n"
    )
    assert impurities(source) == []
