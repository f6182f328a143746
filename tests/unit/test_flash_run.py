"""``vp_edge.flash_run``: which board a flash goes to and what it refuses, without a board."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_bridge.protocol.session import DEFAULT_EPOCH_FILE
from vp_edge.flash_run import flash_artifact, flash_table, flash_target
from vp_edge.flashing import FlashUsageError

URL = "udp://127.0.0.1:9"


def test_url_target_needs_exactly_one_key_choice(tmp_path: Path) -> None:
    with pytest.raises(FlashUsageError, match="needs the deployment key"):
        flash_target(URL)
    key = tmp_path / "k"
    key.write_text("00" * 16)
    with pytest.raises(FlashUsageError, match="not both"):
        flash_target(URL, key_file=str(key), insecure=True)
    t = flash_target(URL, insecure=True)
    assert (t.url, t.board_id, t.key, t.epoch_file, t.baud) == (
        URL,
        1,
        None,
        DEFAULT_EPOCH_FILE,
        115200,
    )
    t = flash_target("serial:///dev/ttyX?baud=9600", key_file=str(key), board_id=7, baud=57600)
    assert (t.url, t.board_id, t.baud) == ("/dev/ttyX", 7, 9600)  # the URL's rate wins
    assert t.key is not None


def test_deployment_target_refuses_what_the_deployment_gives(tmp_path: Path) -> None:
    with pytest.raises(FlashUsageError, match="--insecure, --board-id: taken from the deploy"):
        flash_target("pi1", tmp_path / "dep.toml", board_id=3, insecure=True)


def test_emulated_board_link_needs_its_deployment() -> None:
    with pytest.raises(FlashUsageError, match="--deployment FILE --board NAME"):
        flash_target("pty://m1", insecure=True)


def test_unreadable_artifact(tmp_path: Path) -> None:
    target = flash_target(URL, insecure=True)
    with pytest.raises(FlashUsageError, match="cannot read"):
        flash_artifact(tmp_path / "missing.vpw", target, show_progress=False)


def test_flash_table() -> None:
    r = {
        "previous_sha256": "ab" * 32,
        "board_id": 2,
        "size": 10,
        "slot": 1,
        "url": URL,
        "seconds": 0.5,
        "chunks": 1,
        "resends": 0,
        "sha256": "cd" * 32,
        "verified": True,
        "activated": False,
    }
    lines = flash_table(r).splitlines()
    assert lines[0].startswith("flashed 10 bytes to board 2 slot 1 at udp://")
    assert lines[1].split() == ["previous", "model", "abababababababab..."]
    assert lines[3:] == ["  Hash of data verified.", "  written, not activated (--no-activate)"]
