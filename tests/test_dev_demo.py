"""hub.dev.demo (demo merge hook, dev config) and the serve/dev CLI wiring."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from hub.app import _client_routes
from hub.cli import build_parser
from hub.core.conflict import MergeContext, Policy
from hub.dev.demo import dev_config, merge_union_max, metric_values

CTX = MergeContext("c", 1, None, 0)
CLIENT_JS = Path(__file__).resolve().parents[1] / "client-js"


def test_merge_hook_is_deterministic_and_commutative_on_lists_and_numbers() -> None:
    a = {"tags": ["x", "y"], "n": 3, "title": "a", "only_a": 1}
    b = {"tags": ["y", "z"], "n": 5, "title": "b"}
    merged = merge_union_max(a, b, CTX)
    assert merged == {"tags": ["x", "y", "z"], "n": 5, "title": "b", "only_a": 1}
    assert merge_union_max(a, b, CTX) == merged
    again = merge_union_max(b, a, CTX)
    assert again is not None and set(again["tags"]) == set(merged["tags"]) and again["n"] == 5
    assert merge_union_max(merged, b, CTX) == merged  # idempotent
    assert merge_union_max(None, b, CTX) == b
    assert merge_union_max(a, None, CTX) is None
    assert merge_union_max({"flag": True}, {"flag": False}, CTX) == {"flag": False}  # bools are not numbers


def test_dev_config() -> None:
    cfg = dev_config([("127.0.0.1", 10800)])
    assert cfg.hub.dev_auth and cfg.hub.port == 8000
    by_name = {c.name: c for c in cfg.collections}
    assert by_name["todos"].policy is Policy.LWW
    assert by_name["stale"].policy is Policy.REJECT_IF_STALE
    assert by_name["merged"].policy is Policy.MERGE and by_name["merged"].merge is merge_union_max
    assert by_name["metrics"].writable is False
    assert set(metric_values(0.0)) == {"cpu", "mem", "rps"}


def test_cli_has_serve_and_dev() -> None:
    parser = build_parser()
    args = parser.parse_args(["serve", "--config", "x.toml", "--port", "9"])
    assert args.config == "x.toml" and args.port == 9 and callable(args.handler)
    args = parser.parse_args(["dev", "--no-writer"])
    assert args.no_writer and args.port == 8000
    assert parser.parse_args(["ignite", "status"]).handler is not None


def _served(paths: list[str]) -> dict[str, tuple[int, str]]:
    """Status and content type of each path, from the hub's routes for client-js (no hub)."""

    async def no_status(request: Request) -> Response:
        return PlainTextResponse("no demo", status_code=500)

    app = Starlette(routes=_client_routes(CLIENT_JS, no_status))

    async def get_all() -> dict[str, tuple[int, str]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            out = {}
            for p in paths:
                r = await client.get(p)
                out[p] = (r.status_code, r.headers.get("content-type", ""))
            return out

    return asyncio.run(get_all())


def test_demo_imports_the_package_by_name_from_what_the_hub_serves() -> None:
    """The demo has no build step (``make run`` serves it as it is): its import map names the
    package's entry points, every bare import of app.js is mapped, and each target is served."""
    page = (CLIENT_JS / "demo" / "index.html").read_text()
    found = re.search(r'<script type="importmap">(.*?)</script>', page, re.S)
    assert found, "index.html has no import map"
    imports: dict[str, str] = json.loads(found.group(1))["imports"]
    app = (CLIENT_JS / "demo" / "app.js").read_text()
    bare = set(re.findall(r"^import .*? from '([^'./][^']*)'", app, re.M))
    assert {"synchub-client", "synchub-client/query", "synchub-client/presence"} <= bare
    assert bare <= set(imports), f"not in the import map: {bare - set(imports)}"
    package = json.loads((CLIENT_JS / "package.json").read_text())
    served = _served(list(imports.values()))
    for name, target in imports.items():
        if name.startswith("synchub-client"):
            # the same module the package's `exports` give a bundler
            sub = "." + name.removeprefix("synchub-client")
            assert "/src/" + package["exports"][sub]["default"].removeprefix("./src/") == target
        status, ctype = served[target]
        assert status == 200 and "javascript" in ctype, (name, target, status, ctype)


def test_demo_service_worker_precaches_only_what_is_served() -> None:
    """A precache list with one missing file fails the worker's install (``cache.addAll``)."""
    sw = (CLIENT_JS / "demo" / "sw.js").read_text()
    found = re.search(r"const SHELL = (\[.*?\])", sw)
    assert found, "sw.js has no SHELL list"
    shell: list[str] = json.loads(found.group(1).replace("'", '"'))
    assert "/" in shell and "/app.js" in shell
    served = _served(shell)
    assert all(status == 200 for status, _ in served.values()), served
    assert "e.waitUntil(" in sw.split("'install'")[1].split("addEventListener")[0]
    activate = sw.split("'activate'")[1].split("addEventListener")[0]
    assert "e.waitUntil(" in activate and "caches.delete" in activate
