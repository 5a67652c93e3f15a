"""client-js against a real hub process and the session Ignite node.

One hub subprocess (``synchub serve``) per module, configured like ``synchub dev`` (dev auth, the
four demo collections, the demo, ``/src`` and ``/vendor/msgpack`` served from client-js) but with
cache names unique to this run, plus the external metrics writer of ``hub.dev.demo`` in its own
subprocess. The client's real-hub suite (node, fake-indexeddb) and its browser suite (Chromium via
playwright-core) then run with ``SYNCHUB_URL`` pointing at it.

Missing Chromium, Node or ``client-js/node_modules`` make these tests fail, never skip: ``make setup``
installs them. Logs: ``test-artifacts/client-js/``.
"""

from __future__ import annotations

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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

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


def _config(port: int, addresses: list[tuple[str, int]], run: str) -> str:
    addrs = ", ".join(f'"{h}:{p}"' for h, p in addresses)
    colls = {
        "todos": 'policy = "lww"',
        "stale": 'policy = "reject-if-stale"',
        "merged": 'policy = "merge"\nmerge = "hub.dev.demo:merge_union_max"',
        "metrics": 'writable = false\natomicity = "ATOMIC"',
        "bench": 'policy = "lww"',
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


@pytest.fixture(scope="module")
def js_hub(ignite_addresses: list[tuple[str, int]]) -> Iterator[HubProc]:
    """A ``synchub serve`` subprocess with the dev-like config, ready (``/readyz``), plus the
    external metrics writer."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:8]
    port = free_port()
    cfg = ARTIFACTS / "hub.toml"
    cfg.write_text(_config(port, ignite_addresses, run))
    log = ARTIFACTS / "hub.log"
    wlog = ARTIFACTS / "metrics-writer.log"
    synchub = Path(sys.executable).parent / "synchub"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env = {k: v for k, v in env.items() if not k.startswith("SYNCHUB_")}
    # the hub of this checkout, not whatever the venv's install points at (a worktree shares a venv)
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    logs: list[IO[bytes]] = [open(log, "wb"), open(wlog, "wb")]
    hub = subprocess.Popen(
        [str(synchub), "serve", "--config", str(cfg)],
        cwd=REPO_ROOT,
        env=env,
        stdout=logs[0],
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )
    host, iport = ignite_addresses[0]
    writer: subprocess.Popen[bytes] | None = None
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if hub.poll() is not None:
                pytest.fail(f"hub exited with {hub.returncode} before /readyz:\n{_tail(log)}")
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"hub not ready after {READY_TIMEOUT_S:.0f} s:\n{_tail(log)}")
            time.sleep(0.2)
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, host, str(iport), f"metrics_{run}", f"metrics_{run}"],
            cwd=REPO_ROOT,
            env=env,
            stdout=logs[1],
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        yield HubProc(url, log, hub)
    finally:
        if writer is not None:
            _stop(writer)
        _stop(hub)
        for f in logs:
            f.close()


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


def _npm(script: str, hub: HubProc) -> None:
    _prerequisites()
    env = {**os.environ, "SYNCHUB_URL": hub.url, "CHROMIUM": str(CHROMIUM)}
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
    assert hub.proc.poll() is None, f"hub died during {script}:\n{_tail(hub.log)}"


@pytest.mark.timeout(900)
def test_real_hub_suite(js_hub: HubProc) -> None:
    """client-js/test/real-hub: live sync, reconnect, exactly-once replay, resync, conflict policies."""
    _npm("test:real", js_hub)


@pytest.mark.timeout(900)
def test_browser_suite(js_hub: HubProc) -> None:
    """client-js/test/browser: the demo in Chromium (two users offline/online, two tabs, screenshot)."""
    _npm("test:browser", js_hub)
