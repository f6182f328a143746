"""Latency of a zero-argument call: median, fastest and slowest of a fixed number of runs.

One helper for ``vp-edge benchmark`` (one model on each runtime) and the bench report.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_time(fn: Callable[[], object], repeats: int, inner: int = 1) -> dict:
    """Median seconds per call of ``fn`` over ``repeats`` runs of ``inner`` calls (+1 warm-up).

    Returns ``{"median_s", "min_s", "max_s", "runs"}`` (seconds per single call).
    """
    fn()
    runs = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        runs.append((time.perf_counter() - t0) / inner)
    return {
        "median_s": statistics.median(runs),
        "min_s": min(runs),
        "max_s": max(runs),
        "runs": len(runs),
    }
