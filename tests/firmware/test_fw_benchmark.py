"""`vp-edge benchmark MODEL.tflite` through the firmware in QEMU: the command packs the Arm layout
itself, counts the instructions of an inference, and fails when a row it was asked for fails."""

from __future__ import annotations

import json

import pytest
from fw_helpers import cached_tflite

from converters.card import graph_macs
from converters.tflite import read_graph
from converters.vpw import tflite_to_vpw
from vp_edge.cli import main


def run_cli(capsys: pytest.CaptureFixture, argv: list[str]) -> tuple[int, str, str]:
    """Exit code, stderr and stdout of one CLI call."""
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.err, cap.out


def test_benchmark_counts_a_tflite_on_the_cortex_m4(capsys, pytestconfig, qemu_elf, tmp_path):
    tfl = cached_tflite(pytestconfig, "convs:1")["convs:1"]
    model = tmp_path / "m.tflite"
    model.write_bytes(tfl)
    argv = [
        "benchmark",
        str(model),
        "--runtimes",
        "engine,qemu-m4",
        "--runs",
        "1",
        "--qemu-runs",
        "1",
    ]
    code, err, out = run_cli(capsys, [*argv, "--json"])
    assert code == 0, err
    row = json.loads(out)["runtimes"]["qemu-m4"]
    assert row["layout"] == "cortex-m4" and row["machine"] == "mps2-an386"
    assert row["macs"] == graph_macs(read_graph(tfl)) > 0
    assert row["instructions"] > row["macs"] / 2  # SMLAD: at most two MACs an instruction
    assert row["instructions_per_mac"] == round(row["instructions"] / row["macs"], 3)
    lo, hi = row["cycles_estimate_range"]  # a cycle is never less than an instruction
    assert row["instructions"] <= lo <= row["cycles_estimate"] <= hi < 4 * row["instructions"]
    code, err, out = run_cli(capsys, argv)
    assert code == 0, err
    (line,) = [ln for ln in out.splitlines() if ln.startswith("qemu-m4")]
    assert f"{row['instructions']:,} instructions per inference" in line and "per MAC" in line
    assert "Cortex-M4 cycles (estimate" in out and "B flash" in out


def test_benchmark_fails_when_the_firmware_cannot_take_the_model(
    capsys, pytestconfig, qemu_elf, tmp_path
):
    generic = tmp_path / "g.vpw"  # the host layout: the firmware refuses it
    generic.write_bytes(tflite_to_vpw(cached_tflite(pytestconfig, "convs:1")["convs:1"]))
    code, err, out = run_cli(capsys, ["benchmark", str(generic), "--runtimes", "qemu-m4", "--json"])
    assert code == 3, err
    assert "--target cortex-m4" in json.loads(out)["runtimes"]["qemu-m4"]["error"]
