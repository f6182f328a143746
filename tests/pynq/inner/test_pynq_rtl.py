"""The simulated PYNQ-Z2 with the overlay's Verilated RTL behind vp_top (fabric="rtl"): the same
pynq calls, the same answers as the C engine, and compute time from the RTL's cycle count.

The simulator is built by the main environment (Amaranth exports the Verilog there); this
environment only loads the cached library, so the test skips, saying so, until it exists."""

from __future__ import annotations

import numpy as np
import pytest

from boards.pynq import PynqRunner
from firmware_bridge.engine import Engine


def _simulator_ready() -> str | None:
    try:
        from fpga.sim import build_simulator

        build_simulator(build=False)
    except Exception as e:
        return f"the overlay simulator is not built ({type(e).__name__}: {e}); run the main suite"
    return None


def test_rtl_fabric_answers_as_the_engine(tiny: bytes) -> None:
    if why := _simulator_ready():
        pytest.skip(why)
    runner, engine = PynqRunner(tiny, simulate=True, fabric="rtl"), Engine(tiny)
    rng = np.random.default_rng(3)
    for _ in range(8):
        x = rng.integers(-128, 128, runner.input_bytes, dtype=np.int8)
        np.testing.assert_array_equal(runner.run(x), engine.run(x).reshape(-1))
        assert runner.compute_us is not None and 1 < runner.compute_us < 1000
    assert runner.device.runs == 8
