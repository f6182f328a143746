"""The shared tiny run's settings, a CLI runner and the seeded engine test models (imported by
conftest.py and tests)."""

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
    "vp_edge/train_config.py",
    "vp_edge/run_records.py",
    "vp_edge/recipes.py",
    "vp_edge/convert.py",
    "vp_edge/preprocess.py",
    "converters/tflite.py",
    "converters/card.py",
    "vp_edge/data.py",
    "vp_edge/idx.py",
    "vp_edge/images.py",
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


MAKE_MODELS = ROOT / "tests" / "engine" / "make_models.py"
MODELS_CACHE = "vp_engine_models_v1"


def cached_tflite(config, *specs: str) -> dict[str, bytes]:
    """The engine tests' cached models (``"convs:1"``), made with TensorFlow in a subprocess
    if missing (tests/engine/make_models.py)."""
    import pytest

    out = Path(config.cache.mkdir(MODELS_CACHE))
    missing = [s for s in specs if not (out / f"{s.replace(':', '_')}.tflite").exists()]
    if missing:
        pytest.importorskip("tensorflow")
        cmd = [sys.executable, str(MAKE_MODELS), str(out), ",".join(missing)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            pytest.fail(f"model generation failed:\n{r.stderr[-3000:]}")
    return {s: (out / f"{s.replace(':', '_')}.tflite").read_bytes() for s in specs}
