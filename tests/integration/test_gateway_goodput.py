"""Goodput under overload: past saturation the gateway keeps answering at about its capacity
and turns the excess away early (``busy``), instead of letting every request wait and miss.

Four in-process boards that each take 50 ms per inference (so the ensemble serves about 20
requests/s), the gateway in a thread, and ``vp-edge load`` in its own process, as a user runs
it, at the capacity and at 5x and 20x of it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "boards"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from board_helpers import FakeBoards, four_boards, make_fake_run, write_deployment
from test_gateway_faults import _ports
from test_gateway_overload import GatewayThread, png

BOARD_S = 0.05
CAPACITY = 1 / BOARD_S  # every request goes to every board


@pytest.mark.slow
def test_goodput_holds_past_saturation(tmp_path: Path):
    dep = write_deployment(
        tmp_path, make_fake_run(tmp_path), four_boards(_ports(2)), deadline_ms=500
    )
    images = tmp_path / "images"
    images.mkdir()
    for s in range(4):
        (images / f"{s}.png").write_bytes(png(28, 28, s))
    boards = FakeBoards(dep)
    for name in ("pi1", "pi2", "m3", "m4"):
        boards.start(name, delay_s=BOARD_S)
    server = GatewayThread(dep)
    try:
        rates = ",".join(f"{m * CAPACITY:g}" for m in (0.25, 1, 5, 20))  # warm-up first
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "vp_edge",
                "load",
                "--gateway",
                server.url,
                "--images",
                str(images),
                "--rates",
                rates,
                "--seconds",
                "3",
                "--wait",
                "1",
                "--json",
                "-",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.close()
        boards.stop()
    assert r.returncode == 0, r.stderr
    _, at_capacity, five, twenty = json.loads(r.stdout)["rows"]
    for row in (at_capacity, five, twenty):
        assert row["lost"] == 0 and row["answered"] + row["busy"] + row["errors"] == row["sent"]
        assert row["answered"] > 0 and row["gateway_p99_ms"] <= dep.deadline_s * 1000 + 50, row
    assert at_capacity["goodput_per_s"] >= 0.5 * CAPACITY, at_capacity
    # 80 % is the goal (docs/deployment.md); the test's boards share two cores with the test
    for row in (five, twenty):
        assert row["goodput_per_s"] >= 0.7 * at_capacity["goodput_per_s"], (at_capacity, row)
        assert row["busy"] > 0
