"""Shared fixtures and options. Plain `pytest` needs no hardware and no network.

``tiny_run`` trains and converts the tiny family once per source revision (in a
child process, cached in pytest's cache folder), so every test that needs real
int8 variants shares one run instead of training its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tiny_helpers import TINY_TEST_IMAGES, TINY_TRAIN, tiny_key, vp_edge_cli

from vp_edge.data import FASHION_MNIST_DIR

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_addoption(parser):
    parser.addoption("--link", default=None, help="run hil tests against a real board at this URL")


@pytest.fixture(scope="session")
def tiny_run(request: pytest.FixtureRequest) -> Path:
    """A trained and converted tiny family (variants t16, t24 and the baseline)."""
    given = os.environ.get("VP_EDGE_TINY_RUN")
    if given:
        return Path(given)
    pytest.importorskip("tensorflow")
    if not (FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip("dataset-fashion-mnist is not installed (make test installs it)")
    run = Path(request.config.cache.mkdir(f"vp_edge_tiny_{tiny_key()}")) / "run"
    if not (run / "models" / "baseline.json").exists():
        vp_edge_cli("train", *TINY_TRAIN, "--out", str(run))
        vp_edge_cli(
            "convert",
            "--run",
            str(run),
            "--calibration",
            "64",
            "--test-limit",
            str(TINY_TEST_IMAGES),
        )
    return run
