"""``synchub serve`` loads none of the development tooling (hub.dev: Maven, JVM processes, PKI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# What `synchub serve` imports: the CLI module and its parser, the serve command's own imports
# (hub/cli.py cmd_serve, _run_hub, _probe_ignite), the app and the Ignite store with its connection probe.
SERVE_PATH = """
import json, sys
import hub.cli
hub.cli.build_parser().parse_args(["serve"])
import uvicorn
import hub.app, hub.config, hub.core.errors, hub.logs, hub.store.ignite
from hub.app import HubServer, create_app, server_options
from hub.core.errors import IgniteConnectError
from hub.store.ignite import probe
print(json.dumps(sorted(sys.modules)))
"""


def _serve_modules() -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", SERVE_PATH], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    modules: list[str] = json.loads(out)
    return modules


def test_serve_path_imports_no_dev_tooling() -> None:
    modules = _serve_modules()
    assert "hub.cli" in modules and "hub.app" in modules and "hub.store.ignite" in modules
    assert [m for m in modules if m == "hub.dev" or m.startswith("hub.dev.")] == []


def test_serve_path_runs_no_subprocess_using_hub_module() -> None:
    # The dev modules that start processes (Maven, the JVM) are the hub's only subprocess users.
    for m in _serve_modules():
        if not m.startswith("hub."):
            continue
        module = sys.modules.get(m) or __import__(m, fromlist=["_"])
        source = Path(module.__file__ or "").read_text()
        assert "import subprocess" not in source, m
