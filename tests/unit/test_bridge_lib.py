"""``vp-edge bridge``'s checks, at the library level: refused before any link is opened."""

from __future__ import annotations

from pathlib import Path

import pytest

from boards.bridge import bridge, check_bridge
from vp_edge.errors import VpEdgeError


def test_a_board_must_be_named() -> None:
    with pytest.raises(VpEdgeError, match="names no board: pass --board-id ID or end it with /ID"):
        bridge("socket://127.0.0.1:9", "mqtt://broker:1883/dep")
    check_bridge("socket://127.0.0.1:9", "mqtt://broker:1883/dep/4", None, None)
    check_bridge("socket://127.0.0.1:9", "mqtt://broker:1883/dep", 4, None)


def test_pty_link_needs_its_folder(tmp_path: Path) -> None:
    with pytest.raises(VpEdgeError, match="a pty:// link needs --pty-dir DIR") as e:
        bridge("pty://m4", "mqtt://broker:1883/dep", 4)
    assert e.value.exit_code == 2
    check_bridge("pty://m4", "mqtt://broker:1883/dep", 4, tmp_path)
