"""hub.dev.demo (demo merge hook, dev config) and the serve/dev CLI wiring."""

from __future__ import annotations

from hub.cli import build_parser
from hub.core.conflict import MergeContext, Policy
from hub.dev.demo import dev_config, merge_union_max, metric_values

CTX = MergeContext("c", 1, None, 0)


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
