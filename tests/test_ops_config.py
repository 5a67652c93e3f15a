"""Operations: config validation before serving (``synchub serve``), Ignite security settings,
limits and access rules in the TOML file."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.app import server_options
from hub.config import load_config, parse_config
from hub.core.errors import HubUsageError
from hub.server.hub import Hub
from hub.store.memory import MemoryStore

REPO = Path(__file__).resolve().parent.parent


def serve(tmp_path: Path, text: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "hub.toml"
    cfg.write_text(text)
    return subprocess.run(
        [sys.executable, "-m", "hub", "serve", "--config", str(cfg)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[hub]\nprot = 1\n", "unknown key 'prot'"),
        ('[hub]\nport = "80"\n', "'port' must be int, not str"),
        ("[hub]\nmsg_rate = true\n", "'msg_rate' must be int or float"),
        ("[hub]\nworkers = -1\n", "workers must be >= 0"),
        ("[ignite]\nuse_ssl = 1\n", "'use_ssl' must be bool"),
        ('[ignite]\nssl_ca_certfile = "/nonexistent/ca.pem"\n', "ssl_ca_certfile: file"),
        ('[collections.t.access]\nread = ["rol:admin"]\n', "access rule 'rol:admin'"),
        ('[collections.t.access]\nrow_filter = "nope.nope:f"\n', "cannot import"),
        ('[auth]\nmode = "jwt"\nalgorithms = ["none"]\nsecret = "' + "s" * 40 + '"\n', "not allowed"),
    ],
)
def test_bad_config_exits_with_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    done = serve(tmp_path, text)
    assert done.returncode == 2
    assert message in done.stderr, done.stderr


def test_unreachable_ignite_fails_before_serving(tmp_path: Path) -> None:
    t0 = time.monotonic()
    text = '[hub]\nport = 1\n[ignite]\naddresses = ["127.0.0.1:9"]\nconnect_timeout_ms = 3000\n'
    done = serve(tmp_path, text)
    assert done.returncode == 3
    assert "cannot reach Ignite at 127.0.0.1:9" in done.stderr
    assert "Uvicorn running" not in done.stderr + done.stdout
    assert time.monotonic() - t0 < 20


def test_ignite_security_settings_reach_pyignite(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    cfg = parse_config(
        {
            "ignite": {
                "addresses": ["ignite:10800"],
                "username": "synchub",
                "password_env": "IGNITE_PW",
                "use_ssl": True,
                "ssl_ca_certfile": str(ca),
            }
        },
        env={"IGNITE_PW": "pw"},
    )
    assert cfg.ignite.client_kwargs() == {
        "username": "synchub",
        "password": "pw",
        "use_ssl": True,
        "ssl_ca_certfile": str(ca),
        "ssl_cert_reqs": ssl.CERT_REQUIRED,  # pyignite would otherwise not verify the node
    }
    env = parse_config({}, env={"SYNCHUB_IGNITE_USERNAME": "u", "SYNCHUB_IGNITE_PASSWORD": "p"})
    assert env.ignite.client_kwargs() == {"username": "u", "password": "p"}
    with pytest.raises(HubUsageError, match="not set"):
        parse_config({"ignite": {"password_env": "MISSING_PW", "username": "u"}}, env={})


def test_limits_defaults_and_env_overrides() -> None:
    cfg = load_config(None, env={"SYNCHUB_MSG_RATE": "7.5", "SYNCHUB_SHUTDOWN_DEADLINE_MS": "3000"})
    assert cfg.hub.msg_rate == 7.5 and cfg.hub.shutdown_deadline_ms == 3000
    assert cfg.hub.max_frame == 1 << 20 and cfg.hub.max_conns_per_subject == 20
    opts = server_options(cfg)
    assert opts["ws_per_message_deflate"] is False and opts["ws_max_size"] == (1 << 20) + 64 * 1024
    with pytest.raises(HubUsageError, match="mut_burst must be >= max_batch"):
        parse_config({"hub": {"mut_burst": 10, "max_batch": 20}}, env={})
    with pytest.raises(HubUsageError, match="SYNCHUB_MSG_RATE: expected a number"):
        load_config(None, env={"SYNCHUB_MSG_RATE": "fast"})


def test_access_rules_compile_into_the_hub_policy() -> None:
    cfg = parse_config(
        {
            "collections": {
                "notes": {"access": {"read": ["role:reader"], "row_filter": "tests.support.acl:owner_only"}},
                "open": {},
            }
        },
        env={},
    )
    hub = Hub(cfg, MemoryStore())
    assert hub.policy.has_row_filter("notes") and not hub.policy.has_row_filter("open")
    from hub.auth.identity import Identity

    reader = Identity("alice", {"roles": ["reader"]})
    assert hub.policy.can_read(reader, "notes") and not hub.policy.can_read(Identity("bob"), "notes")
    assert hub.policy.can_write(Identity("bob"), "open")


def test_workers_default_to_one_per_core() -> None:
    from hub.supervisor import worker_count

    assert worker_count(3) == 3
    assert worker_count(0) == len(os.sched_getaffinity(0))
