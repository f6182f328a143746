"""``vp-edge load``'s checks and exit code, at the library level (vp_edge.gateway.loadtest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vp_edge.errors import DataError, UsageError
from vp_edge.gateway.loadtest import load_exit_code, parse_rates, read_images


def test_rates_parsed_and_bad_rates_named() -> None:
    assert parse_rates("20, 50,100") == [20.0, 50.0, 100.0]
    for bad in ("", "x", "nan", "inf", "0", "-5", "200000"):
        with pytest.raises(UsageError, match="--rates"):
            parse_rates(bad)


def test_images_sorted_filtered_and_bounded(tmp_path: Path) -> None:
    (tmp_path / "b.png").write_bytes(b"\x89PNG b")
    (tmp_path / "a.JPG").write_bytes(b"\xff\xd8 a")
    (tmp_path / "notes.txt").write_text("skip me")
    assert read_images(tmp_path) == [b"\xff\xd8 a", b"\x89PNG b"]
    assert read_images(tmp_path, limit=1) == [b"\xff\xd8 a"]


def test_images_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a folder"):
        read_images(tmp_path / "nope")
    with pytest.raises(DataError, match="no .png"):
        read_images(tmp_path)


def test_exit_code_3_only_when_a_request_was_lost() -> None:
    assert load_exit_code([{"lost": 0}, {"lost": 0}]) == 0
    assert load_exit_code([{"lost": 0}, {"lost": 2}]) == 3
    assert load_exit_code([]) == 0
