"""bench/report.py: each benchmark's table goes between its own markers; the text around them stays."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import report


def doc_with_all_markers(filler: str = "hand-written") -> str:
    parts = ["# Benchmarks", ""]
    for name, title in report.SECTIONS:
        begin, end = report.markers(name)
        parts += [
            f"### {title}",
            "",
            f"{filler} about {name}",
            begin,
            f"old {name} table",
            end,
            f"{filler} reading of {name}",
            "",
        ]
    return "\n".join(parts)


def test_only_measured_sections_are_replaced_and_the_text_around_them_is_kept(tmp_path: Path) -> None:
    artifacts, images = tmp_path / "artifacts", tmp_path / "img"
    images.mkdir()
    table = artifacts / "push" / "full" / "table.md"
    table.parent.mkdir(parents=True)
    table.write_text("| p50 |\n|---|\n| 12 ms |\n")
    (table.parent / "plot.png").write_bytes(b"\x89PNG fake")
    text, replaced = report.update(doc_with_all_markers(), artifacts, images, "full")

    assert replaced == ["push"]
    assert "old push table" not in text
    assert "| 12 ms |" in text
    assert "Measured by `make bench` (full profile), finished " in text
    assert "![Push latency of external writes (bench/push.py)](img/bench-push.png)" in text
    assert (images / "bench-push.png").read_bytes() == b"\x89PNG fake"
    for name, _ in report.SECTIONS:
        assert f"hand-written about {name}" in text and f"hand-written reading of {name}" in text
        if name != "push":
            assert f"old {name} table" in text
    # the new block sits where the old one was, between the section's own text
    assert (
        text.index("hand-written about push")
        < text.index("| 12 ms |")
        < text.index("hand-written reading of push")
    )
    # running it again changes nothing more: the markers survive the replacement
    again, _ = report.update(text, artifacts, images, "full")
    assert again == text


def test_another_profile_is_not_taken_for_the_full_one(tmp_path: Path) -> None:
    table = tmp_path / "fanout" / "quick" / "table.md"
    table.parent.mkdir(parents=True)
    table.write_text("quick figures")
    text, replaced = report.update(doc_with_all_markers(), tmp_path, tmp_path, "full")
    assert replaced == [] and "quick figures" not in text
    text, replaced = report.update(doc_with_all_markers(), tmp_path, tmp_path, "quick")
    assert replaced == ["fanout"] and "quick figures" in text and "(quick profile)" in text


@pytest.mark.parametrize("damage", ["missing", "swapped"])
def test_a_section_without_its_markers_is_an_error(tmp_path: Path, damage: str) -> None:
    begin, end = report.markers("memory")
    doc = doc_with_all_markers()
    if damage == "missing":
        doc = doc.replace(end, "")
    else:
        doc = doc.replace(begin, "@@").replace(end, begin).replace("@@", end)
    with pytest.raises(ValueError, match="bench:memory"):
        report.update(doc, tmp_path, tmp_path, "full")


def test_the_committed_doc_has_every_sections_markers() -> None:
    text = report.DOC.read_text()
    for name, title in report.SECTIONS:
        begin, end = report.markers(name)
        assert text.count(begin) == 1 and text.count(end) == 1, name
        assert text.index(f"### {title}") < text.index(begin) < text.index(end), name
