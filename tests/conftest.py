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

# Property tests must not depend on the machine being idle: no wall-clock deadline, no speed
# health check, and the same examples on every run (derandomised: each test's seed is fixed by
# its name). Example counts stay as each test sets them. "explore" draws fresh random examples
# (HYPOTHESIS_PROFILE=explore, or pytest --hypothesis-profile=explore; a failure prints the
# @reproduce_failure blob). .venv-pynq runs its own tests without Hypothesis.
try:
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover - the pynq environment
    settings = None
else:
    settings.register_profile(
        "ci",
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        derandomize=True,
        print_blob=True,
    )
    settings.register_profile(
        "explore", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_report_header(config: pytest.Config) -> str:
    if settings is None:
        return "hypothesis: not installed"
    s = settings.default
    seed = "fixed per test (derandomised)" if s.derandomize else "random, printed on failure"
    return f"hypothesis settings: deadline={s.deadline}, seed {seed}"


def pytest_addoption(parser):
    g = parser.getgroup("hil", "hardware in the loop (tests/hil; docs/hil.md)")
    g.addoption(
        "--link",
        default=None,
        help="run the board contract tests against a real board at this link URL "
        "(serial:///dev/ttyACM0?baud=115200, udp://HOST:PORT, ...)",
    )
    g.addoption("--board-id", type=int, default=1, help="the real board's id (default 1)")
    g.addoption(
        "--key-file",
        default=None,
        help="the real board's own key file ('vp-edge keys derive'); without it the "
        "board must be insecure",
    )


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
