"""The requantisation lane in Amaranth's simulator against the converter's TFLite arithmetic
(``converters.quant``, which the engine's requantisation tests check against LiteRT): double
rounding over the whole shift range, single rounding, ties, the clamp."""

from __future__ import annotations

import numpy as np
from conftest import need_amaranth

from converters import quant


def _single(x: int, m: int, shift: int) -> int:
    total = 31 - shift
    return (x * m + (1 << (total - 1))) >> total


def _cases(rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    cases = []
    for _ in range(120):
        m = int(rng.integers(1 << 30, 1 << 31))
        shift = int(rng.integers(-31, 8))
        x = int(rng.integers(-(1 << 31), 1 << 31)) >> int(rng.integers(0, 31))
        if shift > 0:
            x >>= shift  # keep x << shift inside int32, as a valid model does
        cases.append((x, m, shift, int(rng.integers(0, 2))))
    # ties of the second rounding: x*m/2^31 lands on .5 after the right shift
    cases += [
        (3 << 20, 1 << 30, -21, 0),
        (-(3 << 20), 1 << 30, -21, 0),
        (5, 1 << 30, -1, 0),
        (-5, 1 << 30, -1, 0),
        (0, 0, 0, 0),
        (-(1 << 31), (1 << 31) - 1, 0, 0),
    ]
    return cases


def test_requant_lane_matches_tflite_rounding() -> None:
    need_amaranth()
    from amaranth.sim import Simulator

    from fpga.rtl.requant import LATENCY, Requant

    dut = Requant()
    cases = _cases(np.random.default_rng(5))
    got: list[tuple[int, int]] = []

    async def bench(ctx) -> None:
        ctx.set(dut.zp, -3)
        ctx.set(dut.lo, -100)
        ctx.set(dut.hi, 90)
        for x, m, s, single in cases + [(0, 0, 0, 0)] * LATENCY:
            ctx.set(dut.acc, x)
            ctx.set(dut.mult, m)
            ctx.set(dut.shift, s)
            ctx.set(dut.single, single)
            ctx.set(dut.valid, 1)
            await ctx.tick()
            got.append((ctx.get(dut.raw), ctx.get(dut.q)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    for i, (x, m, s, single) in enumerate(cases):
        want = _single(x, m, s) if single else quant.multiply_by_quantized_multiplier(x, m, s)
        raw, q = got[i + LATENCY - 1]
        assert raw == want, (x, m, s, single)
        assert q == min(max(want - 3, -100), 90)
