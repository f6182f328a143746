"""The arena search's worker: ``python -m converters._arena_worker`` with a JSON job list on stdin.

(``--probe MODEL ARENA``: exit 0 when the model runs with ARENA bytes, nothing else.)

Each job is ``{"path": MODEL, "lo": LO|null, "hi": HI|null}``. For every job the worker
records tflite-micro's own arena total with a generous arena (``report``), checks that an arena
of a quarter more runs (``check``; if not, the search starts from the generous arena), then
bisects between ``lo`` (0: known to fail) and ``hi`` (known to run) to the smallest 16-aligned
arena that allocates and invokes (``try``). Each probe is done in this process: a too-small
arena is a clean ``RuntimeError`` from tflite-micro, and one probe leaves nothing behind for the
next (each builds its own interpreter on its own arena). A far-too-small arena can crash the
process instead, so every step is printed (and flushed) before and after it, one line each::

    I report N | I check A | I try A | I ok | I fail | I arena H

and the parent (``converters.card.measure_arenas``) counts a probe the worker died in as failed
and starts a new worker from where this one stopped. The answer is the one a fresh process per
probe gave, at the cost of one import of tflite-micro instead of one per probe.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np

ARENA_ALIGN = 16


def _say(*words: object) -> None:
    print(*words, flush=True)


def _run(data: bytes, arena: int) -> Any:
    """An interpreter that has allocated and invoked once with ``arena`` bytes (or raises)."""
    from converters.interpreters import tflm

    it = tflm(data, arena)
    d = it.get_input_details(0)
    it.set_input(np.zeros(d["shape"], dtype=d["dtype"]), 0)
    it.invoke()
    return it


def probe(data: bytes, arena: int) -> bool:
    """True when tflite-micro allocates and invokes with this arena."""
    try:
        _run(data, arena)
    except Exception:  # any failure means "does not run with this arena"
        return False
    return True


def recorded_bound(data: bytes) -> int:
    """tflite-micro's recorded arena total with a generous arena, a quarter added, 16-aligned
    (an upper bound that ``check`` verifies: recorded totals can under-report)."""
    from converters.interpreters import default_arena

    arena = default_arena(len(data))
    it = _run(data, arena)
    # print_allocations writes to the C stderr; capture it through a temp file.
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            it.print_allocations()
        finally:
            os.dup2(saved, 2)
        tmp.seek(0)
        text = tmp.read().decode(errors="replace")
    m = re.search(r"Arena allocation total (\d+) bytes", text)
    total = int(m.group(1)) if m else arena
    return min(arena, (int(total * 1.25) + 15) // 16 * 16)


def bisect(lo: int, hi: int, ok: Callable[[int], bool]) -> int:
    """Smallest 16-aligned arena in (lo, hi] that runs, ``lo`` failing and ``hi`` running."""
    while hi - lo > ARENA_ALIGN:
        mid = (lo + hi) // 2 // ARENA_ALIGN * ARENA_ALIGN
        if mid <= lo:
            break
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def search(i: int, data: bytes, lo: int | None, hi: int | None) -> int:
    """One job, every step announced (see the module docstring)."""
    from converters.interpreters import default_arena

    def ok(arena: int, step: str = "try") -> bool:
        _say(i, step, arena)
        good = probe(data, arena)
        _say(i, "ok" if good else "fail")
        return good

    if hi is None:
        hi = recorded_bound(data)
        _say(i, "report", hi)
        if not ok(hi, "check"):
            hi = default_arena(len(data))
    hi = bisect(lo or 0, hi, ok)
    _say(i, "arena", hi)
    return hi


def main() -> int:
    if sys.argv[1:2] == ["--probe"]:  # one probe: exit 0 when MODEL runs with ARENA bytes
        with open(sys.argv[2], "rb") as f:
            _run(f.read(), int(sys.argv[3]))
        return 0
    jobs = json.load(sys.stdin)
    for i, job in enumerate(jobs):
        with open(job["path"], "rb") as f:
            data = f.read()
        search(i, data, job.get("lo"), job.get("hi"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
