"""Whole networks on the Verilated overlay: 0 differing int8 values against the C engine (itself
bit-exact with LiteRT's reference kernels), layer by layer and end to end, with cycle counts.

The first run builds the simulator (Verilator, a few minutes on two cores; cached after that)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import need_verilator
from fpga_models import mixed_model

from firmware_bridge.engine import Engine

TINY = Path(__file__).parents[1] / "pynq" / "data" / "tiny.vpw"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rtl():
    need_verilator()
    from fpga.sim import RtlSim

    return RtlSim


def _layer_outputs(sim, x: np.ndarray) -> list[np.ndarray]:
    """Each overlay layer's result, read back after running the program up to it."""
    from fpga.program import FIELDS

    outs = []
    for k in range(1, len(sim.program.desc) + 1):
        sim.run_layers(x, k)
        d = dict(zip(FIELDS, sim.program.desc[k - 1].tolist()))
        words = d["oh"] * d["ow"] * d["ocg"]
        outs.append(sim.read_act(d["out_base"], words).reshape(d["oh"] * d["ow"], -1))
    return outs


@pytest.mark.parametrize("seed", [1, 2])
def test_every_op_layer_by_layer_equals_the_engine(rtl, seed: int) -> None:
    blob = mixed_model(seed, h=7 + seed % 2)
    sim, eng = rtl(blob), Engine(blob)
    x = np.random.default_rng(seed).integers(-128, 128, eng.info["input_shape"], dtype=np.int8)
    ref = eng.run_layers(x)
    for i, got in zip(sim.program.hw_layers, _layer_outputs(sim, x), strict=True):
        want = ref[i][2]
        c = want.size // got.shape[0]
        assert np.array_equal(got[:, :c].reshape(-1).view(np.int8), want), f"layer {i}"


def test_whole_networks_have_no_differing_value(rtl) -> None:
    rng = np.random.default_rng(0)
    for blob in (TINY.read_bytes(), mixed_model(7)):
        sim, eng = rtl(blob), Engine(blob)
        xs = rng.integers(-128, 128, (20, *eng.info["input_shape"]), dtype=np.int8)
        differing, cycles = 0, set()
        for x in xs:
            y, c = sim.run(x)
            differing += int(np.sum(y != eng.run(x)))
            cycles.add(c)
        assert differing == 0
        assert len(cycles) == 1  # data-independent timing: a static schedule
        # the master's share: at least a beat a cycle for the input's and output's words (two
        # beats each), and the model's weight words (32 beats each) once, before any input
        p = sim.program
        assert 2 * (p.inp.words + p.out.words) <= sim.move_cycles < min(cycles)
        assert sim.load_cycles >= 32 * len(p.wgt) + 18 * len(p.qnt) + p.desc.size
