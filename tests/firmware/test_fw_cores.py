"""Cortex-M7 (QEMU mps2-an500) and Cortex-M33 (mps2-an505, Secure state) builds of the same
firmware: they boot a flash file written by a LOAD session, answer INFER bit-identical to the
host C engine, and give the bench's per-core instruction counts."""

from __future__ import annotations

import numpy as np
import pytest
from fw_helpers import BOARD_ID, KEY, assert_serves, cli_flash

from firmware_bridge import qemu
from firmware_bridge.engine import Engine


@pytest.fixture(scope="module")
def host_flash(models, epoch_file, tmp_path_factory):  # noqa: ANN001, ANN201
    """A host-target flash file (the mps2 targets' layout) serving ``old``."""
    if missing := qemu.missing_tools("mps2-an500") + qemu.missing_tools("host"):
        pytest.skip(f"needs {', '.join(missing)} (scripts/setup.d/20-toolchains.sh)")
    tmp = tmp_path_factory.mktemp("cores")
    with qemu.start_host(tmp / "flash.bin", board_id=BOARD_ID, key=KEY) as b:
        rc, _ = cli_flash(tmp, b.url, models["old"], epoch_file)
        assert rc == 0
    return tmp / "flash.bin"


@pytest.mark.parametrize("target", ["mps2-an500", "mps2-an505"])
def test_core_serves_bit_identical(target, host_flash, models, epoch_file, tmp_path) -> None:
    storage = tmp_path / "flash.bin"
    storage.write_bytes(host_flash.read_bytes())
    with qemu.start_qemu(storage, board_id=BOARD_ID, key=KEY, target=target) as b:
        assert_serves(b.url, models["old"], epoch_file, n=3)


def test_bench_core_counts(models) -> None:
    """Every core runs the model with RESULTs equal to the host engine's; the Cortex-M4 builds
    (mps2-an386, stm32f405) count the same instructions (same -mcpu, same code; +-1000 from
    the timer resolution)."""
    if missing := qemu.missing_tools("stm32f405") + qemu.missing_tools("mps2-an505"):
        pytest.skip(f"needs {', '.join(missing)}")
    from experiments.bench.mcu import CORES, core_counts, cores_markdown

    vpw = models["old"]
    x = np.zeros(Engine(vpw).info["input_size"], np.int8)
    counts, same = core_counts(vpw, x)
    assert set(counts) == set(CORES) and all(same.values()), same
    n = {c: v["value"] for c, v in counts.items()}
    assert all(v > 0 for v in n.values()), counts
    assert abs(n["stm32f405"] - n["cortex-m4"]) <= 1000
    table = cores_markdown({"old": {"cores": counts, "identical": same}})
    assert any(line.startswith("| old |") for line in table)
