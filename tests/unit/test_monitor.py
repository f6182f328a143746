"""``vp_edge.monitor``: which board a monitor follows and what it refuses, without a board."""

from __future__ import annotations

from pathlib import Path

import pytest

from vp_edge.errors import UsageError
from vp_edge.monitor import MonitorTarget, _delta, monitor_target


def test_a_board_name_needs_its_deployment() -> None:
    with pytest.raises(UsageError, match="a board name needs --deployment FILE"):
        monitor_target("pi1")


def test_a_link_url_needs_a_key_choice(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="give --key-file F or --insecure"):
        monitor_target("udp://127.0.0.1:9")
    assert monitor_target("/dev/ttyACM0", board_id=4, insecure=True) == MonitorTarget(
        "/dev/ttyACM0", 4, None, None, None
    )
    key = tmp_path / "k"
    key.write_text("11" * 16)
    assert monitor_target("udp://127.0.0.1:9", key_file=key).key is not None


def test_delta_only_between_two_good_beats() -> None:
    a = {"rx_ok": 1, "rx_dropped": 0, "inferences": 2, "errors": 0}
    b = {"rx_ok": 4, "rx_dropped": 1, "inferences": 5, "errors": 0}
    assert _delta(None, a) == {}
    assert _delta(a, {"error": "silent"}) == {}
    assert _delta(a, b) == {"delta": {"rx_ok": 3, "rx_dropped": 1, "inferences": 3, "errors": 0}}
