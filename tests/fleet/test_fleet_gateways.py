"""Gateways as processes sharing a deployment's requests through Mosquitto (MQTT 5 shared
subscription), each owning its own boards; one is killed mid-run: every request answered once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from board_helpers import FakeBoards, make_fake_run, write_deployment

from firmware_bridge.transport import for_board
from vp_edge.gateway.loadtest import run_rate_mqtt

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("pi1", "pi2", "pi3", "pi4")


def png(seed: int) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    a = np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def start_gateway(dep_path: Path, url: str, boards: str, name: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vp_edge",
            "gateway",
            "--deployment",
            str(dep_path),
            "--listen",
            url,
            "--boards",
            boards,
            "--name",
            name,
            "--no-progress",
            "--json",
            "-",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    end = time.monotonic() + 60
    line = ""
    while time.monotonic() < end and "serving" not in line:
        line = p.stderr.readline()
        if not line and p.poll() is not None:
            raise AssertionError(f"gateway {name} exited: {p.stderr.read()}")
    return p


@pytest.fixture
def fleet(tmp_path, broker):
    url = broker.url("t2")
    specs = [{"id": i + 1, "name": n, "kind": "linux", "variant": ("t16", "t24")[i % 2],
              "link": for_board(url, i + 1)} for i, n in enumerate(NAMES)]  # fmt: skip
    # a deadline with room for a loaded machine's late event loop: this test is about a killed
    # gateway, not about shedding load (tests/integration/test_gateway_overload.py)
    dep = write_deployment(tmp_path, make_fake_run(tmp_path), specs, deadline_ms=1000)
    boards = FakeBoards(dep)
    for n in NAMES:
        boards.start(n)
    gws = {
        "a": start_gateway(dep.path, url, "pi1,pi2", "a"),
        "b": start_gateway(dep.path, url, "pi3,pi4", "b"),
    }
    yield url, gws
    for p in gws.values():
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in gws.values():
        p.wait(20)
    boards.stop()


def test_gateway_killed_every_request_answered_once(fleet, capsys):
    url, gws = fleet
    images = [png(s) for s in range(4)]

    def kill(i: int) -> None:
        if i == 20:
            gws["a"].send_signal(signal.SIGKILL)

    row = run_rate_mqtt(url, images, 25, 60, wait_s=3.0, retry_s=0.6, on_sent=kill)
    with capsys.disabled():
        print(f"\n[fleet kill] {row}")
    assert row["lost"] == 0 and row["garbled"] == 0, row
    assert row["answered"] == row["sent"], row  # the survivor answered everything in the end
    gws["b"].send_signal(signal.SIGINT)
    out, _ = gws["b"].communicate(timeout=20)
    report = json.loads(out)
    assert report["front_end"]["outcomes"].get("answered", 0) >= 40  # b took a's share


def test_classify_cli_through_the_fleet(fleet, tmp_path):
    url, _ = fleet
    img = tmp_path / "x.png"
    img.write_bytes(png(9))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(
        [sys.executable, "-m", "vp_edge", "classify", str(img), "--gateway", url, "--json", "-"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    reply = json.loads(r.stdout)
    assert reply["ok"] and len(reply["voters"]) == 2
