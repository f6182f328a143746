"""End to end on a real tiny converted run: emulated processes (LiteRT daemons over UDP,
tflite-micro MCUs behind throttled ptys), boards killed halfway, live == offline exactly.

Slow: uses the session's tiny converted run (tests/conftest.py ``tiny_run``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_live_demo_equals_offline(tiny_run: Path, tmp_path: Path, capsys) -> None:
    from vp_edge.live import live_table, run_live_demo

    s = run_live_demo(tiny_run, 16, tmp_path / "live", False)
    with capsys.disabled():
        print("\n" + live_table(s))
    assert s["equal"]
    for r in s["runs"].values():
        assert r["differing"] == 0 and r["errors"] == 0
        assert r["live_accuracy"] == r["offline_accuracy"]
    assert s["runs"]["all_alive"]["degraded"] == 0
    assert s["runs"]["killed"]["degraded"] >= 8 - 1
    assert all(v["udp"] <= 64 and v["serial"] <= 64 for v in s["result_frame_bytes"].values())
