"""A training run stopped with Ctrl-C in its second epoch and resumed with the same command ends
with the same weights, byte for byte, as one that ran through (issue 29), and the same command
run twice gives the same weights. A small generated image folder (three classes of 16x16
images, 40 each), two epochs, batch 16, no baseline; two runs at a time (about four trainings'
worth of TensorFlow start-up and tracing: the slow part)."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from shapes_helpers import write_stripes, write_stripes_family
from tiny_helpers import ROOT

pytestmark = [pytest.mark.tf, pytest.mark.slow]


def _args(tmp: Path) -> list[str]:
    data = tmp / "data"
    if not data.exists():
        write_stripes(data, per_class=40)
        write_stripes_family(tmp / "stripes.json")
    return [
        "train",
        "--family",
        str(tmp / "stripes.json"),
        "--data",
        str(data),
        "--epochs",
        "2",
        "--patience",
        "5",
        "--batch-size",
        "16",
        "--lr",
        "5e-3",
        "--no-baseline",
    ]


def _epochs_done(run: Path) -> int:
    try:
        return json.loads((run / "train.json").read_text())["models"]["joint"]["epochs_done"]
    except (OSError, ValueError, KeyError):
        return 0


def _start(args: list[str], run: Path) -> subprocess.Popen:
    """``vp-edge ARGS --out RUN`` with Ctrl-C as in a terminal (a job started in the background
    of a script inherits SIGINT ignored, and a Python started so keeps ignoring it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "vp_edge", *args, "--out", str(run)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _finish(proc: subprocess.Popen) -> str:
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    return err


def _interrupt_after_first_epoch(args: list[str], run: Path) -> int:
    """Start the training, press Ctrl-C (SIGINT) once epoch 1 is on disk; the exit code."""
    proc = _start(args, run)
    deadline = time.monotonic() + 1800
    while proc.poll() is None and _epochs_done(run) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert "interrupted" in err, err[-2000:]
    return proc.returncode


def _digests(run: Path) -> tuple[str, list[dict]]:
    weights = (run / "weights" / "joint.weights.h5").read_bytes()
    history = json.loads((run / "train.json").read_text())["models"]["joint"]["history"]
    return hashlib.sha256(weights).hexdigest(), history


def test_interrupted_and_resumed_equals_uninterrupted(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    args = _args(tmp_path)
    through = _start(args, tmp_path / "through")
    # 130 from vp-edge's own handler; when Ctrl-C lands while TensorFlow runs a step, its
    # threads can abort the exit after the message (SIGABRT), with the run's files intact
    assert _interrupt_after_first_epoch(args, tmp_path / "resumed") in (130, -signal.SIGABRT)
    _finish(through)
    assert _epochs_done(tmp_path / "resumed") == 1  # stopped in epoch 2, epoch 1 kept
    resumed, again = _start(args, tmp_path / "resumed"), _start(args, tmp_path / "again")
    _finish(resumed)
    _finish(again)
    sha, history = _digests(tmp_path / "through")
    assert len(history) == 2
    # every figure of both epochs exactly equal (epoch 2's follow from the final weights),
    # and the saved weights' SHA-256; the same again for a second uninterrupted run
    assert _digests(tmp_path / "resumed") == (sha, history)
    assert _digests(tmp_path / "again") == (sha, history)
