"""Helpers of the quick-start test that run the CLI against an emulated fleet."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from shapes_helpers import SHAPES
from tiny_helpers import ROOT


def cli(
    *args: str, cwd: Path, ok: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    r = subprocess.run(
        [sys.executable, "-m", "vp_edge", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )
    if ok:
        assert r.returncode == 0, f"vp-edge {' '.join(args)} -> {r.returncode}:\n{r.stderr[-3000:]}"
    return r


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(dep_dir: Path, names: list[str], emu: subprocess.Popen, timeout: float) -> None:
    """Until ``vp-edge emulate`` has written every board's ready file."""
    end = time.monotonic() + timeout
    ready = dep_dir / ".deploy.state" / "ready"
    while not all((ready / f"{n}.json").exists() for n in names):
        assert emu.poll() is None, f"emulate exited: {emu.stderr.read()[-2000:]}"
        assert time.monotonic() < end, "emulated boards not ready in time"
        time.sleep(0.2)
    time.sleep(0.5)  # 'emulating' is printed after the last ready file


def gateway_split(dep: Path, cwd: Path, *extra: str) -> dict:
    """``vp-edge gateway --split test`` as JSON (exit 3: some answers degraded)."""
    r = cli(
        "gateway",
        "--deployment",
        str(dep),
        "--split",
        "test",
        "--no-progress",
        "--json",
        *extra,
        cwd=cwd,
        ok=False,
    )
    assert r.returncode in (0, 3), r.stderr[-2000:]
    return json.loads(r.stdout)


def not_serving(rep: dict) -> dict:
    """Boards the gateway refused or that never answered (a slow board on a loaded machine may
    miss a deadline and be down at the end; it still served)."""
    return {
        n: (b["refused"], b["reason"])
        for n, b in rep["boards"].items()
        if b["refused"] or not b["results"]
    }


def training_index(run: Path, shapes: Path) -> dict[str, int]:
    """The label the run's own data loading gives one image of each folder (what was trained)."""
    import numpy as np

    from vp_edge.convert import load_run_data
    from vp_edge.data import load_image
    from vp_edge.train import load_run_family

    splits = load_run_data(run, load_run_family(run))
    out = {}
    for kind in SHAPES:
        img = load_image(sorted((shapes / kind).glob("*.png"))[0], (28, 28, 1))
        for d in (splits.train, splits.val, splits.test):
            hit = [int(y) for x, y in zip(d.x, d.y) if np.array_equal(x, img)]
            if hit:
                out[kind] = hit[0]
    return out
