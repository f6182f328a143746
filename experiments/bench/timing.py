"""Section 2 inputs: compute time per inference (batch 1) on each host engine, and vote time.

Engines: LiteRT reference kernels (a Linux board with ``kernels = "ref"``), tflite-micro (the MCU
kernels on the host) and the portable C engine on the packed .vpw (the MCU firmware's engine). Each
model runs a fixed input (the first test image); a run is enough calls to last ``min_run_s``, the
figure is the median over ``repeats`` runs after one warm-up. One thread, one process.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from converters.rundir import RunDir
from experiments.bench.comm import fixed_input
from experiments.bench.context import BenchContext
from experiments.bench.figures import fig, median_time
from vp_edge.train import BASELINE

ENGINES = ("litert-ref", "tflm", "c-engine")


def vpw_bytes(ctx: BenchContext, name: str) -> bytes:
    """The packed model: the run's .vpw when packed, else converted in memory."""
    from converters.vpw import tflite_to_vpw

    path = RunDir(ctx.run).vpw(name)
    if path.exists():
        return path.read_bytes()
    return tflite_to_vpw(ctx.model_path(name).read_bytes())


def _runner(ctx: BenchContext, engine: str, name: str) -> Callable[[], object]:
    """A zero-argument call running one inference of ``name`` on ``engine``."""
    x = fixed_input(ctx, name)
    if engine == "c-engine":
        from firmware_bridge.engine import Engine

        e = Engine(vpw_bytes(ctx, name))
        flat = x.reshape(-1)
        return lambda: e.run(flat)
    model = ctx.model_path(name).read_bytes()
    if engine == "tflm":
        from converters.interpreters import tflm

        it = tflm(model)
        batch = x[None]

        def tflm() -> object:
            it.set_input(batch, 0)
            it.invoke()
            return it.get_output(0)

        return tflm
    from vp_edge.runtime import TfliteRunner

    r = TfliteRunner(model)
    return lambda: r.run(x)


def _calls_for(fn: Callable[[], object], min_run_s: float) -> int:
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-6)
    return int(min(200, max(1, round(min_run_s / one))))


def compute_times(
    ctx: BenchContext, repeats: int, min_run_s: float, engines: tuple[str, ...] = ENGINES
) -> dict:
    """engine -> model -> median seconds per inference (measured) or the error that stopped it."""
    models = ctx.variants + ([BASELINE] if ctx.has_baseline else [])
    out: dict[str, dict] = {}
    for engine in engines:
        rows = {}
        for name in models:
            try:
                fn = _runner(ctx, engine, name)
            except Exception as e:
                rows[name] = {"error": f"{type(e).__name__}: {e}"[:300]}
                continue
            inner = _calls_for(fn, min_run_s)
            t = median_time(fn, repeats, inner)
            how = f"median of {t['runs']} runs x {inner} calls, batch 1, fixed input"
            rows[name] = {
                "compute_s": fig(t["median_s"], "measured", "s", how),
                "min_s": fig(t["min_s"], "measured", "s", "fastest run"),
                "max_s": fig(t["max_s"], "measured", "s", "slowest run"),
            }
        out[engine] = rows
    return out


def vote_time(ctx: BenchContext, repeats: int) -> dict:
    """Seconds per ``fuse`` call over all N answers, and votes per second on one core."""
    from vp_edge.vote import fuse, topk_from_int8

    answers = [
        topk_from_int8(
            v,
            ctx.outputs[v][0],
            ctx.k,
            ctx.cards[v]["output_scale"],
            ctx.cards[v]["output_zero_point"],
        )
        for v in ctx.variants
    ]
    w, C = ctx.family.weights(), ctx.family.num_classes
    t = median_time(lambda: fuse(answers, C, "reference", w), repeats, inner=2000)
    how = f"vote.fuse over {len(answers)} answers, k={ctx.k}, median of {t['runs']} x 2000"
    return {
        "fuse_s": fig(t["median_s"], "measured", "s", how),
        "votes_per_s": fig(1.0 / t["median_s"], "measured", "votes/s", how + ", one core"),
    }
