"""Figures of the simulated overlay for one model: exactness against the C engine, cycles,
milliseconds at the design clock, effective GOPS (2 x MACs / simulated time) and the MAC array's
utilisation (MACs / (cycles x lanes^2))."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np

from converters.vpw_format import OP_NAMES, read_vpw
from fpga.config import DEFAULT, Config


def figures(cycles: int, macs: int, cfg: Config = DEFAULT) -> dict:
    """Time and throughput of one inference of ``macs`` MACs that took ``cycles``."""
    seconds = cycles / (cfg.clock_mhz * 1e6)
    return {
        "cycles": cycles,
        "ms": round(seconds * 1e3, 4),
        "clock_mhz": cfg.clock_mhz,
        "macs": macs,
        "gops": round(2 * macs / seconds / 1e9, 2) if cycles else 0.0,
        "utilisation": round(macs / (cycles * cfg.peak_macs), 4) if cycles else 0.0,
        "peak_gops": round(2 * cfg.peak_macs * cfg.clock_mhz / 1e3, 1),
    }


def _ps_ops(model: Any, layers: list[int]) -> list[str]:
    return [f"{i}:{OP_NAMES.get(model.layers[i]['op'], '?')}" for i in layers]


def layer_check(sim: Any, eng: Any, x: np.ndarray) -> tuple[int, int]:
    """(differing, values) over every overlay layer's result for input ``x``, each read back
    after running the program up to it, against the engine's layer-by-layer outputs."""
    from fpga.program import FIELDS

    p = sim.program
    ref = {i: v for i, (_, _, v) in enumerate(eng.run_layers(x))}
    xin = eng.run_head(x, len(p.head)) if p.head else x
    differing = values = 0
    for k, li in enumerate(p.hw_layers, 1):
        sim.run_layers(xin, k)
        d = dict(zip(FIELDS, p.desc[k - 1].tolist()))
        got = sim.read_act(d["out_base"], d["oh"] * d["ow"] * d["ocg"]).reshape(
            d["oh"] * d["ow"], -1
        )
        want = ref[li]
        got = got[:, : want.size // got.shape[0]].reshape(-1).view(np.int8)
        differing += int(np.sum(got != want))
        values += int(want.size)
    return differing, values


def evaluate(vpw: bytes, inputs: np.ndarray, cfg: Config = DEFAULT, layers: int = 0) -> dict:
    """Run every input on the simulated overlay and on the C engine; count differing values
    (of the outputs, and of every overlay layer's result for the first ``layers`` inputs)."""
    from firmware_bridge.engine import Engine
    from fpga.sim import RtlSim

    t0 = time.perf_counter()
    sim, eng = RtlSim(vpw, cfg), Engine(vpw)
    load_s = time.perf_counter() - t0
    differing, values, cycles, outs = 0, 0, set(), []
    t0 = time.perf_counter()
    for x in inputs:
        y, c = sim.run(x)
        ref = eng.run(x)
        differing += int(np.sum(y.reshape(-1) != ref.reshape(-1)))
        values += int(ref.size)
        cycles.add(c)
        outs.append(np.asarray(y, np.int8).tobytes())
    sim_s = time.perf_counter() - t0
    move = sim.move_cycles  # of the last inference: the master reading the input, writing out
    layer_diff = layer_vals = 0
    if layers and any(ly["tensor"] < 0 for ly in read_vpw(vpw).layers):
        layers = 0  # a partly written tensor (CONCATENATION) has no layer-by-layer reference
    for x in inputs[:layers]:
        d, v = layer_check(sim, eng, x)
        layer_diff, layer_vals = layer_diff + d, layer_vals + v
    p = sim.program
    model = read_vpw(vpw)
    out = figures(max(cycles), p.macs, cfg)
    out.update(
        inputs=len(inputs),
        values=values,
        differing=differing,
        cycles_vary=len(cycles) > 1,
        move_cycles=move,
        model_load_cycles=sim.load_cycles,
        ddr_latency_cycles=sim.latency,
        overlay_layers=len(p.desc),
        ps_layers=_ps_ops(model, p.head + p.tail),
        output_sha256=hashlib.sha256(outs[0]).hexdigest()[:16] if outs else "",
        sim_load_s=round(load_s, 2),
        sim_s_per_inference=round(sim_s / max(len(inputs), 1), 4),
        layer_inputs=min(layers, len(inputs)),
        layer_values=layer_vals,
        layer_differing=layer_diff,
    )
    sim.close()
    return out


def benchmark_row(vpw: bytes, seed: int = 0, runs: int = 3, cfg: Config = DEFAULT) -> dict:
    """The ``vp-edge benchmark --runtimes fpga`` row: seeded random inputs, the first one's
    output SHA (as every other row), cycles, ms at the clock, utilisation, exactness."""
    shape = read_vpw(vpw).input_shape[1:]  # as the other rows draw it: the same input
    x = np.random.default_rng(seed).integers(-128, 128, shape, dtype=np.int8)
    return evaluate(vpw, np.stack([x] * runs), cfg)
