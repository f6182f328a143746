"""``vp-edge boards``: whole sentences and memory in units people read."""

from __future__ import annotations

import re

from vp_edge.cli import main
from vp_edge.commands.boards import first_sentence, size_text


def test_size_text_picks_the_unit() -> None:
    assert size_text(256 * 1024) == "256 KB"
    assert size_text(4 << 30) == "4 GB"
    assert size_text(1536 * 1024) == "1.5 MB"
    assert size_text(100) == "100 B"


def test_first_sentence_is_whole() -> None:
    doc = """LiteRT on one thread: ``kernels`` xnnpack (default: LiteRT's
    default delegate), builtin, or ref. More text.

    Details."""
    assert first_sentence(doc) == (
        "LiteRT on one thread: ``kernels`` xnnpack (default: "
        "LiteRT's default delegate), builtin, or ref."
    )


def test_boards_prints_no_cut_sentence_and_no_huge_kb(capsys) -> None:
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    runners = out.split("runners:")[1].strip().splitlines()
    assert all(line.rstrip().endswith((".", ")")) for line in runners), runners
    assert re.search(r"RAM +4 GB", out), out
    assert not re.search(r"\d{4,} KB", out), out
