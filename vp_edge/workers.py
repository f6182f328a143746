"""Int8 inference fanned out to worker processes (one thread each).

Workers are started with "spawn": they never inherit TensorFlow (LiteRT's
reference kernels and TensorFlow in one process have aborted here), and a
crash in tflite-micro kills a worker, not the caller.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path

import numpy as np

from vp_edge.errors import ArtifactError
from vp_edge.progress import Progress

CHUNK = 500


def _litert(path: str, xs: np.ndarray, kernels: str = "ref") -> np.ndarray:
    from vp_edge.runtime import TfliteRunner

    return TfliteRunner(Path(path), kernels=kernels).run_batch(xs)


def _tflm(path: str, xs: np.ndarray) -> np.ndarray:
    from converters.interpreters import tflm

    it = tflm(Path(path).read_bytes())
    out = []
    for x in xs:
        it.set_input(np.asarray(x, dtype=np.int8)[None], 0)
        it.invoke()
        out.append(it.get_output(0)[0].copy())
    return np.stack(out).astype(np.int8)


def _c_engine(path: str, xs: np.ndarray) -> np.ndarray:
    from firmware_bridge.engine import Engine

    eng = Engine(Path(path).read_bytes())
    return np.stack([eng.run(x).reshape(-1) for x in xs]).astype(np.int8)


ENGINES = {
    # LiteRT per kernel set: litert-ref, litert-builtin, litert-xnnpack (what a linux board runs)
    **{f"litert-{k}": partial(_litert, kernels=k) for k in ("ref", "builtin", "xnnpack")},
    "tflm": _tflm,
    "c-engine": _c_engine,  # on a .vpw
}
#: engine used for each kind of model in offline evaluation: variants on the kernels boards run,
#: the baseline (never deployed across boards, 6x+ the MACs) on LiteRT's optimised kernels
EVAL_ENGINE = {"variant": "litert-ref", "baseline": "litert-builtin"}


def run_models(
    jobs: Sequence[tuple[str, Path, np.ndarray]],
    engine: str = "litert-ref",
    workers: int | None = None,
    label: str = "int8 inference",
    show: bool = True,
) -> dict[str, np.ndarray]:
    """int8 outputs of each (name, model path, int8 inputs) job, in parallel chunks."""
    fn = ENGINES[engine]
    workers = workers or max(1, min(os.cpu_count() or 1, 4))
    total = sum(len(x) for _, _, x in jobs)
    parts: dict[str, dict[int, np.ndarray]] = {name: {} for name, _, _ in jobs}
    with Progress(total, label, enabled=show) as bar:
        try:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
                futures = {}
                for name, path, xs in jobs:
                    for start in range(0, len(xs), CHUNK):
                        f = pool.submit(fn, str(path), xs[start : start + CHUNK])
                        futures[f] = (name, start, min(CHUNK, len(xs) - start))
                for f in as_completed(futures):
                    name, start, n = futures[f]
                    parts[name][start] = f.result()
                    bar.update(n)
        except BrokenProcessPool:
            raise ArtifactError(f"{engine} crashed while running the models") from None
    return {name: np.concatenate([p[s] for s in sorted(p)]) for name, p in parts.items()}


def run_for_evaluation(
    jobs: Sequence[tuple[str, Path, np.ndarray]], label: str, show: bool = True
) -> dict[str, np.ndarray]:
    """int8 outputs with each model on its evaluation engine (``engine_for``)."""
    out: dict[str, np.ndarray] = {}
    for engine in sorted({engine_for(name) for name, _, _ in jobs}):
        group = [j for j in jobs if engine_for(j[0]) == engine]
        out.update(run_models(group, engine, label=f"{label} ({engine})", show=show))
    return out


def engine_for(name: str) -> str:
    return EVAL_ENGINE["baseline" if name == "baseline" else "variant"]
