"""The RTL overlay as a PYNQ user meets it (simulated board, fabric="rtl"): its .hwh register
map (fpga/rtl_ports.py) in ``register_map``, one ``pynq.allocate`` buffer whose device address
the runner programs, the AXI master reading and writing that buffer's DDR side (so the
runner's ``flush``/``invalidate`` matter), and ``compute_us`` from the IP's own CYCLES."""

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


def test_the_rtl_map_is_driven_through_pynq(tiny: bytes) -> None:
    if why := _simulator_ready():
        pytest.skip(why)
    from fpga.rtl_ports import REGS

    runner, engine = PynqRunner(tiny, simulate=True, fabric="rtl"), Engine(tiny)
    rmap = runner.ip.register_map
    assert all(hasattr(rmap, r) for r in ("N_LAYERS", "PROG_ADDR", "IN_ADDR", "CYCLES"))
    buf = runner.rtl_buf
    assert runner.ip.read(REGS["PROG_ADDR"]) == buf.device_address  # the one buffer
    rng = np.random.default_rng(5)
    x, x2 = (rng.integers(-128, 128, runner.input_bytes, dtype=np.int8) for _ in range(2))
    np.testing.assert_array_equal(runner.run(x), engine.run(x).reshape(-1))
    cycles = runner.ip.read(REGS["CYCLES"])
    assert runner.compute_us == cycles / 100.0 and runner.ip.read(REGS["MOVE_CYCLES"]) > 0
    # the fabric sees DDR: a second input written without flush does not reach it
    host = runner.host
    y1, _ = host.run(x)
    sync = host._sync
    host._sync = lambda method: sync(method) if method == "invalidate" else None
    try:
        stale, _ = host.run(x2)
    finally:
        host._sync = sync
    y2, _ = host.run(x2)
    assert not np.array_equal(y1, y2)
    np.testing.assert_array_equal(stale, y1)
    runner.close()
