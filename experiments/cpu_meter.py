"""Where the CPU went: per-process and whole-machine CPU seconds from /proc, and a meter that
turns them into shares of one core over a measured step (the fleet demo's load rows)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

CLK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a process (0 when gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK


def machine_cpu_s() -> tuple[float, float]:
    """The whole machine's (busy, idle) CPU seconds so far, summed over its cores."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = f[3] + f[4]  # idle + iowait
    return (sum(f[:8]) - idle) / CLK, idle / CLK


class CpuMeter:
    """Where the CPU went during one load step, in % of one core: each part of the fleet (a
    callable giving its CPU seconds so far), everything else on the machine, and idle."""

    def __init__(self, parts: dict[str, Callable[[], float]]) -> None:
        self.parts = parts
        self._start: tuple[float, dict[str, float], tuple[float, float]] | None = None

    def start(self) -> None:
        self._start = (time.monotonic(), {k: f() for k, f in self.parts.items()}, machine_cpu_s())

    def shares(self) -> dict[str, float]:
        assert self._start is not None, "CpuMeter.start() first"
        t0, used0, (busy0, idle0) = self._start
        wall = max(1e-6, time.monotonic() - t0)
        used = {k: f() - used0[k] for k, f in self.parts.items()}
        busy, idle = machine_cpu_s()
        pct = {k: round(100 * v / wall, 1) for k, v in used.items()}
        pct["other"] = round(100 * max(0.0, busy - busy0 - sum(used.values())) / wall, 1)
        pct["idle"] = round(100 * (idle - idle0) / wall, 1)
        return pct
