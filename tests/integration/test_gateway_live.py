"""End to end on a real tiny converted run: emulated processes (LiteRT daemons over UDP,
tflite-micro MCUs behind throttled ptys), boards killed halfway, live == offline exactly.

Slow: trains and converts the tiny family once (cached in pytest's cache), unless
VP_EDGE_TINY_RUN points at a converted run already.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def tiny_run(request: pytest.FixtureRequest) -> Path:
    given = os.environ.get("VP_EDGE_TINY_RUN")
    if given:
        return Path(given)
    pytest.importorskip("tensorflow")
    run = Path(request.config.cache.mkdir("vp_edge_tiny_run_v1")) / "run"
    if not (run / "models" / "t24.json").exists():
        cli = [sys.executable, "-m", "vp_edge"]
        train = ["train", "--family", "tiny", "--out", str(run), "--epochs", "1",
                 "--train-limit", "300"]
        for args in (train, ["convert", "--run", str(run), "--test-limit", "50"]):
            r = subprocess.run(cli + args, capture_output=True, text=True, timeout=900)
            assert r.returncode == 0, r.stderr[-2000:]
    return run


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
