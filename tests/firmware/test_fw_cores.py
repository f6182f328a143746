"""Cortex-M7 (QEMU mps2-an500) and Cortex-M33 (mps2-an505, Secure state) builds of the same
firmware: they boot a flash file written by a LOAD session, answer INFER bit-identical to the
host C engine, and give the bench's per-core instruction counts."""

from __future__ import annotations

import numpy as np
import pytest
from fw_helpers import BOARD_ID, KEY, assert_serves, cli_flash

from firmware_bridge.engine import Engine
from firmware_bridge.firmware import qemu


@pytest.fixture(scope="module")
def host_flash(models, epoch_file, tmp_path_factory):
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


def test_kernels_bench_counts_m4_and_m7(pytestconfig) -> None:
    """The kernels bench counts Cortex-M4 and Cortex-M7 through the mcu bench's path: both
    RESULTs equal the host engine's, per MAC = instructions / MACs, and both land in the table."""
    if missing := qemu.missing_tools("mps2-an386") + qemu.missing_tools("mps2-an500"):
        pytest.skip(f"needs {', '.join(missing)}")
    from fw_helpers import cached_tflite

    from experiments.bench.kernels import PUBLISHED, m4_cycle_estimate, markdown, qemu_counts

    tfl = cached_tflite(pytestconfig, "resize:1")["resize:1"]
    row = qemu_counts(tfl, n_macs=1000)
    assert row["m4_same_topk"] and row["m7_same_topk"], row
    for key in ("m4", "m7"):
        assert row[f"{key}_instructions"] > 0
        assert row[f"{key}_per_mac"] == row[f"{key}_instructions"] / 1000
    row.update(m4_cycle_estimate(tfl, row["m4_instructions"]))
    lo, hi = row["m4_cycles_range"]
    assert row["m4_instructions"] <= lo <= row["m4_cycles"] <= hi
    ms = dict.fromkeys(("c-engine", "litert-ref", "litert-builtin", "xnnpack", "tflm"), 1.0)
    row.update(
        macs=1000, ms=ms, c_over_builtin=1.0, c_over_xnnpack=1.0, c_engine_arena=1, tflm_arena=1
    )
    text = markdown(
        {
            "command": "c",
            "when": "w",
            "machine": "m",
            "repeats": 1,
            "models": {"resize": row, "ds_cnn": row},
        }
    )
    table_row = next(line for line in text.splitlines() if line.startswith("| resize |"))
    assert f"{row['m7_instructions']:,} | {row['m7_per_mac']:.2f}" in table_row
    assert f"{row['m4_cycles']:,} (" in table_row
    published = next(ln for ln in text.splitlines() if ln.startswith(f"| {PUBLISHED['ds_cnn'][0]}"))
    assert f"{PUBLISHED['ds_cnn'][1]:,}" in published
    assert "Not run" not in text
