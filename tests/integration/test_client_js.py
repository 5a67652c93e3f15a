"""client-js against a real hub process and the session Ignite node.

One hub subprocess (``synchub serve``) per module, configured like ``synchub dev`` (dev auth, the
four demo collections, the demo, ``/src`` and ``/vendor/msgpack`` served from client-js) but with
cache names unique to this run, plus the external metrics writer of ``hub.dev.demo`` in its own
subprocess. The client's real-hub suite (node, fake-indexeddb) and its browser suite (Chromium via
playwright-core) then run with ``SYNCHUB_URL`` pointing at it.

The browser suite also gets a second hub on the same Ignite node and caches (``SYNCHUB_URL_B``):
rooms across hubs with a page in Chromium (client-js/test/browser/rooms.test.js). Its config is
the first one's but for the port and a short ``[rooms] grace_ms`` (``SYNCHUB_B_GRACE_MS``), so
that a page closed abruptly leaves quickly; the first hub keeps the default grace, which the
real-hub suite's reconnect-without-leave test relies on. ``ttl_ms`` stays the same on both: each
hub judges the others' entries stale by its own ttl.

Missing Chromium, Node or ``client-js/node_modules`` make these tests fail, never skip: ``make setup``
installs them. Logs: ``test-artifacts/client-js/``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_JS = REPO_ROOT / "client-js"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "client-js"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
READY_TIMEOUT_S = 120.0
NPM_TIMEOUT_S = 600.0

WRITER = """
import asyncio, sys
from hub.dev.demo import metrics_writer
from hub.core.types import CollectionSpec
host, port, cache, vtype = sys.argv[1:5]
spec = CollectionSpec("metrics", cache=cache, value_type=vtype, writable=False, atomicity="ATOMIC")
asyncio.run(metrics_writer([(host, int(port))], spec, interval=0.5))
"""


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM the child when pytest dies (no orphaned hub or writer after a kill)."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


#: ``[rooms] grace_ms`` of the second hub (the first keeps the default, 5000).
GRACE_MS_B = 500


def _config(port: int, addresses: list[tuple[str, int]], run: str, grace_ms: int | None = None) -> str:
    addrs = ", ".join(f'"{h}:{p}"' for h, p in addresses)
    colls = {
        "todos": 'policy = "lww"',
        "stale": 'policy = "reject-if-stale"',
        "merged": 'policy = "merge"\nmerge = "hub.dev.demo:merge_union_max"',
        "metrics": 'writable = false\natomicity = "ATOMIC"',
        "bench": 'policy = "lww"',
        # query subscriptions (client-js/test/real-hub/subsets.test.js): declared fields, a named one
        "tasks": 'policy = "lww"\nfields = {team = "string", done = "bool", n = "long", room = "string"}\n'
        + "[collections.tasks.subscriptions.room_tasks]\n"
        + 'filter = [["room", "==", {param = "room"}]]',
        # client-js/test/browser/quota.test.js alone: a browser on a small quota syncs its snapshot
        "quota": 'policy = "lww"',
    }
    parts = [
        "[hub]",
        'host = "127.0.0.1"',
        f"port = {port}",
        "dev_auth = true",
        "workers = 1",
        f'static_dir = "{CLIENT_JS}"',
        "",
        "[ignite]",
        f"addresses = [{addrs}]",
    ]
    for name, body in colls.items():
        parts += [
            "",
            f"[collections.{name}]",
            f'cache = "{name}_{run}"',
            f'value_type = "{name}_{run}"',
            body,
        ]
    if grace_ms is not None:
        parts += ["", "[rooms]", f"grace_ms = {grace_ms}"]
    return "\n".join(parts) + "\n"


def _stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


@dataclass
class HubProc:
    url: str
    log: Path
    proc: subprocess.Popen[bytes]
    run: str


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env = {k: v for k, v in env.items() if not k.startswith("SYNCHUB_")}
    # the hub of this checkout, not whatever the venv's install points at (a worktree shares a venv)
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@contextlib.contextmanager
def _serve(name: str, config: Callable[[int], str], run: str) -> Iterator[HubProc]:
    """``synchub serve`` with ``config(port)`` as ``<name>.toml``, yielded once ``/readyz`` answers
    200; logs to ``<name>.log``; stopped (SIGINT, then SIGKILL) on exit."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cfg = ARTIFACTS / f"{name}.toml"
    cfg.write_text(config(port))
    log = ARTIFACTS / f"{name}.log"
    synchub = Path(sys.executable).parent / "synchub"
    with open(log, "wb") as out:
        hub = subprocess.Popen(
            [str(synchub), "serve", "--config", str(cfg)],
            cwd=REPO_ROOT,
            env=_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while True:
                if hub.poll() is not None:
                    pytest.fail(f"{name} exited with {hub.returncode} before /readyz:\n{_tail(log)}")
                try:
                    with urllib.request.urlopen(url + "/readyz", timeout=2) as r:
                        if r.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{name} not ready after {READY_TIMEOUT_S:.0f} s:\n{_tail(log)}")
                time.sleep(0.2)
            yield HubProc(url, log, hub, run)
        finally:
            _stop(hub)


@pytest.fixture(scope="module")
def js_hub(ignite_addresses: list[tuple[str, int]]) -> Iterator[HubProc]:
    """A ``synchub serve`` subprocess with the dev-like config, ready (``/readyz``), plus the
    external metrics writer."""
    run = uuid.uuid4().hex[:8]
    host, iport = ignite_addresses[0]
    with _serve("hub", lambda port: _config(port, ignite_addresses, run), run) as hub:
        writer: subprocess.Popen[bytes] | None = None
        with open(ARTIFACTS / "metrics-writer.log", "wb") as wlog:
            try:
                writer = subprocess.Popen(
                    [sys.executable, "-c", WRITER, host, str(iport), f"metrics_{run}", f"metrics_{run}"],
                    cwd=REPO_ROOT,
                    env=_env(),
                    stdout=wlog,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent,
                )
                yield hub
            finally:
                if writer is not None:
                    _stop(writer)


@pytest.fixture(scope="module")
def js_hub_b(js_hub: HubProc, ignite_addresses: list[tuple[str, int]]) -> Iterator[HubProc]:
    """A second hub on the same Ignite node and caches as ``js_hub`` (rooms across hubs), with
    ``[rooms] grace_ms = GRACE_MS_B``."""

    def config(port: int) -> str:
        return _config(port, ignite_addresses, js_hub.run, grace_ms=GRACE_MS_B)

    with _serve("hub-b", config, js_hub.run) as hub:
        yield hub


def _prerequisites() -> None:
    """Fail (not skip) when what ``make setup`` installs is missing."""
    missing = []
    if shutil.which("npm") is None or shutil.which("node") is None:
        missing.append("node/npm")
    if not (CLIENT_JS / "node_modules" / "@msgpack" / "msgpack").is_dir():
        missing.append("client-js/node_modules (npm ci --prefix client-js)")
    if not (CLIENT_JS / "node_modules" / "playwright-core").is_dir():
        missing.append("playwright-core in client-js/node_modules")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"chromium at {CHROMIUM}")
    if missing:
        pytest.fail("missing (run `make setup`): " + ", ".join(missing))


def _counts(out: str) -> str:
    found = {k: re.findall(rf"^# {k} (\d+)$", out, re.M) for k in ("tests", "pass", "fail", "skipped")}
    return ", ".join(f"{k} {sum(map(int, v))}" for k, v in found.items() if v) or "no node:test summary"


def _npm(script: str, hub: HubProc, hub_b: HubProc | None = None) -> None:
    _prerequisites()
    env = {**os.environ, "SYNCHUB_URL": hub.url, "CHROMIUM": str(CHROMIUM)}
    if hub_b is not None:
        env |= {"SYNCHUB_URL_B": hub_b.url, "SYNCHUB_B_GRACE_MS": str(GRACE_MS_B)}
    out_file = ARTIFACTS / f"{script.replace(':', '-')}.log"
    try:
        proc = subprocess.run(
            ["npm", "--prefix", str(CLIENT_JS), "run", script],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=NPM_TIMEOUT_S,
        )
        out = proc.stdout.decode(errors="replace")
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace") + f"\n(timed out after {NPM_TIMEOUT_S:.0f} s)"
        code = None
    out_file.write_text(out)
    if code != 0:  # kept: the next run of the suite overwrites out_file (flakes are diagnosed from these)
        (ARTIFACTS / f"{out_file.stem}-failed-{time.strftime('%Y%m%dT%H%M%S')}.log").write_text(out)
    skipped = re.findall(r"^# (?:skipped|todo) (\d+)$", out, re.M)
    assert code == 0 and not any(int(n) for n in skipped), (
        f"npm run {script} exited with {code} ({_counts(out)}); full output in {out_file}\n"
        f"{out[-6000:]}\n--- hub log ({hub.log}) ---\n{_tail(hub.log, 3000)}"
    )
    for h in (hub, hub_b) if hub_b is not None else (hub,):
        assert h.proc.poll() is None, f"hub {h.url} died during {script}:\n{_tail(h.log)}"


@pytest.mark.timeout(900)
def test_real_hub_suite(js_hub: HubProc) -> None:
    """client-js/test/real-hub: live sync, reconnect, exactly-once replay, resync, conflict policies."""
    _npm("test:real", js_hub)


@pytest.mark.timeout(900)
def test_browser_suite(js_hub: HubProc, js_hub_b: HubProc) -> None:
    """client-js/test/browser: the demo in Chromium (two users offline/online, two tabs, screenshot),
    rooms across the two hubs."""
    _npm("test:browser", js_hub, js_hub_b)
