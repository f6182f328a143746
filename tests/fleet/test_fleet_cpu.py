"""The fleet demo's CPU accounting: a part's share is its CPU time over the step's wall time."""

from __future__ import annotations

import os
import time

from experiments.cpu_meter import CpuMeter, cpu_s, machine_cpu_s


def test_a_spinning_part_gets_its_share_and_the_rest_is_accounted():
    fake = {"t": 0.0}
    meter = CpuMeter({"fake": lambda: fake["t"], "me": lambda: cpu_s(os.getpid())})
    meter.start()
    end = time.monotonic() + 0.3
    while time.monotonic() < end:  # this process spins on one core
        pass
    fake["t"] += 0.15  # a part that used 0.15 s of CPU in a ~0.3 s step: about 50 %
    pct = meter.shares()
    assert list(pct) == ["fake", "me", "other", "idle"]
    assert 5 <= pct["fake"] <= 51  # 0.15 s over at least 0.3 s (longer if descheduled)
    assert pct["me"] > 0 and pct["other"] >= 0 and pct["idle"] >= 0
    cores = os.cpu_count() or 1
    assert pct["me"] + pct["other"] + pct["idle"] <= 100 * cores * 1.2  # the machine's total


def test_machine_counters_only_grow():
    busy0, idle0 = machine_cpu_s()
    time.sleep(0.05)
    busy1, idle1 = machine_cpu_s()
    assert busy1 >= busy0 and idle1 >= idle0 and busy1 + idle1 > busy0 + idle0
