"""hub.config: TOML + environment, validated with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import Config, load_config, parse_config
from hub.core.conflict import Policy
from hub.core.errors import HubUsageError

GOOD = """
[hub]
host = "0.0.0.0"
port = 9000
dev_auth = true
max_frame = 2097152

[ignite]
addresses = ["10.0.0.1:10800", "10.0.0.2:10801"]

[collections.todos]
policy = "lww"

[collections.notes]
cache = "NOTES"
value_type = "Note"
policy = "merge"
merge = "hub.dev.demo:merge_union_max"
backups = 1
atomicity = "ATOMIC"

[collections.metrics]
writable = false
"""


def test_full_file(tmp_path: Path) -> None:
    p = tmp_path / "synchub.toml"
    p.write_text(GOOD)
    cfg = load_config(p, env={})
    assert cfg.hub.host == "0.0.0.0" and cfg.hub.port == 9000 and cfg.hub.dev_auth is True
    assert cfg.hub.max_frame == 2 << 20 and cfg.hub.catchup_overlap_ms == 0
    assert cfg.ignite.addresses == (("10.0.0.1", 10800), ("10.0.0.2", 10801))
    notes = cfg.collection("notes")
    assert notes is not None and notes.policy is Policy.MERGE and notes.merge is not None
    assert notes.cache_name == "NOTES" and notes.type_name == "Note" and notes.backups == 1
    metrics = cfg.collection("metrics")
    assert metrics is not None and metrics.writable is False
    assert cfg.collection("nope") is None


def test_env_overrides() -> None:
    env = {
        "SYNCHUB_IGNITE": "h1:1,h2:2",
        "SYNCHUB_HOST": "::1",
        "SYNCHUB_PORT": "81",
        "SYNCHUB_DEV_AUTH": "yes",
        "SYNCHUB_TOKENS": "a, b",
    }
    cfg = parse_config({"hub": {"port": 80}}, env)
    assert cfg.ignite.addresses == (("h1", 1), ("h2", 2))
    assert cfg.hub.host == "::1" and cfg.hub.port == 81 and cfg.hub.dev_auth and cfg.hub.tokens == ("a", "b")


def test_defaults() -> None:
    cfg = load_config(None, env={})
    assert cfg == Config()
    assert cfg.hub.max_frame == 1 << 20 and cfg.hub.max_batch == 500 and cfg.hub.queue_bytes == 4 << 20


@pytest.mark.parametrize(
    ("data", "env", "needle"),
    [
        ({"hubb": {}}, {}, "unknown key 'hubb'"),
        ({"hub": {"prot": 1}}, {}, "unknown key 'prot'"),
        ({"hub": {"port": "80"}}, {}, "'port' must be int"),
        ({"hub": {"dev_auth": 1}}, {}, "'dev_auth' must be bool"),
        ({"hub": {"port": True}}, {}, "'port' must be int"),
        ({"hub": {"max_frame": 0}}, {}, "max_frame must be > 0"),
        ({"hub": {"sweep_share": 0}}, {}, "sweep_share must be > 0 and <= 1"),
        ({"hub": {"sweep_share": 1.5}}, {}, "sweep_share must be > 0 and <= 1"),
        ({}, {"SYNCHUB_SWEEP_SHARE": "-0.1"}, "sweep_share must be > 0 and <= 1"),
        ({"hub": {"tokens": [1]}}, {}, "list of strings"),
        ({"ignite": {"addresses": ["nohost"]}}, {}, "host:port"),
        ({"ignite": {"addresses": []}}, {}, "must not be empty"),
        ({"collections": {"a": {"policy": "newest"}}}, {}, "policy 'newest'"),
        ({"collections": {"a": {"policy": "merge"}}}, {}, "needs merge"),
        ({"collections": {"a": {"policy": "merge", "merge": "nope_mod:f"}}}, {}, "cannot import"),
        ({"collections": {"a": {"policy": "merge", "merge": "hub.dev.demo:nope"}}}, {}, "no callable"),
        ({"collections": {"a": {"merge": "bad"}}}, {}, "module:function"),
        ({"collections": {"a": {"cach": "x"}}}, {}, "[collections.a]: unknown key 'cach'"),
        ({"collections": {"a": {"atomicity": "SOMETIMES"}}}, {}, "atomicity"),
        ({"collections": {"a": 5}}, {}, "must be a table"),
        ({}, {"SYNCHUB_PORT": "x"}, "SYNCHUB_PORT"),
        ({}, {"SYNCHUB_DEV_AUTH": "maybe"}, "SYNCHUB_DEV_AUTH"),
        ({}, {"SYNCHUB_IGNITE": "a:b"}, "SYNCHUB_IGNITE"),
    ],
)
def test_errors(data: dict[str, object], env: dict[str, str], needle: str) -> None:
    with pytest.raises(HubUsageError) as info:
        parse_config(data, env, "x.toml")
    assert needle in str(info.value)


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(HubUsageError, match="not found"):
        load_config(tmp_path / "nope.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[hub\n")
    with pytest.raises(HubUsageError, match="invalid TOML"):
        load_config(bad, env={})


def test_example_file_is_valid() -> None:
    cfg = load_config(Path(__file__).resolve().parent.parent / "synchub.example.toml", env={})
    assert {c.name for c in cfg.collections} >= {"todos"}
