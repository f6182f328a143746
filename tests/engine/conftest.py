"""Seeded int8 test models, generated once with TensorFlow in a subprocess and cached.

TensorFlow and LiteRT must not share a process right after a conversion (it aborts), so the
models are built by make_models.py in a child process; the tests only use LiteRT.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
#: name:seed of every generated model; together they cover every supported op
MODELS = ("convs:1", "convs:2", "pools:1", "residual:1", "residual:2", "resize:1", "tiny:0")


@pytest.fixture(scope="session")
def model_dir(request: pytest.FixtureRequest) -> Path:
    pytest.importorskip("tensorflow")
    pytest.importorskip("ai_edge_litert")
    out = Path(request.config.cache.mkdir("vp_engine_models_v1"))
    missing = [m for m in MODELS if not (out / f"{m.replace(':', '_')}.tflite").exists()]
    if missing:
        cmd = [sys.executable, str(HERE / "make_models.py"), str(out), ",".join(missing)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            pytest.fail(f"model generation failed:\n{r.stderr[-3000:]}")
    return out


@pytest.fixture(scope="session")
def load(model_dir: Path):  # noqa: ANN201 - returns a loader
    """``load("convs:1")`` -> the cached .tflite bytes."""
    return lambda spec: (model_dir / f"{spec.replace(':', '_')}.tflite").read_bytes()
