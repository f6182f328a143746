"""Seeded int8 test models, generated once with TensorFlow in a subprocess and cached.

TensorFlow and LiteRT must not share a process right after a conversion (it aborts), so the
models are built by make_models.py in a child process; the tests only use LiteRT.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_helpers import MODELS_CACHE, cached_tflite

#: name:seed of every generated model; together they cover every supported op
MODELS = ("convs:1", "convs:2", "pools:1", "residual:1", "residual:2", "resize:1", "tiny:0")


@pytest.fixture(scope="session")
def model_dir(request: pytest.FixtureRequest) -> Path:
    pytest.importorskip("ai_edge_litert")
    cached_tflite(request.config, *MODELS)
    return Path(request.config.cache.mkdir(MODELS_CACHE))


@pytest.fixture(scope="session")
def load(model_dir: Path):
    """``load("convs:1")`` -> the cached .tflite bytes."""
    return lambda spec: (model_dir / f"{spec.replace(':', '_')}.tflite").read_bytes()
