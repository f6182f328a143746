"""The shared tiny run's settings and a CLI runner (imported by conftest.py and tests)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY_TRAIN = ["--family", "tiny", "--epochs", "2", "--train-limit", "1500", "--batch-size", "64"]
TINY_TEST_IMAGES = 400
#: sources whose change invalidates the cached tiny run
TINY_SOURCES = (
    "vp_edge/family.py",
    "vp_edge/models.py",
    "vp_edge/train.py",
    "vp_edge/recipes.py",
    "vp_edge/convert.py",
    "vp_edge/preprocess.py",
    "converters/tflite.py",
    "converters/card.py",
    "vp_edge/data.py",
)


def tiny_key() -> str:
    h = hashlib.sha256(" ".join(TINY_TRAIN).encode())
    for rel in TINY_SOURCES:
        h.update((ROOT / rel).read_bytes())
    return h.hexdigest()[:16]


def vp_edge_cli(*args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    """Run ``python -m vp_edge ARGS`` in a child process; fail the test with its stderr."""
    r = subprocess.run(
        [sys.executable, "-m", "vp_edge", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert r.returncode == 0, f"vp-edge {' '.join(args)} failed:\n{r.stderr[-3000:]}"
    return r
