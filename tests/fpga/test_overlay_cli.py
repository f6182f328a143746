"""``vp-edge overlay run`` and ``vp-edge benchmark --runtimes fpga`` on the pynq fixture: the
RTL's figures (cycles, GOPS, utilisation) and exactness come out of the commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import need_verilator
from tiny_helpers import vp_edge_cli

TINY = Path(__file__).parents[1] / "pynq" / "data" / "tiny.vpw"
pytestmark = pytest.mark.slow


def test_overlay_run_reports_exactness_and_cycles() -> None:
    need_verilator()
    r = vp_edge_cli("overlay", "run", str(TINY), "--random", "--images", "4", "--layers", "1",
                    "--json", "-")  # fmt: skip
    rep = json.loads(r.stdout)
    assert rep["differing"] == 0 and rep["values"] == 40
    assert rep["layer_differing"] == 0 and rep["layer_values"] > 0
    assert rep["ps_layers"] == ["5:SOFTMAX"] and rep["cycles"] > 0
    # the AXI master's share is inside the count; the model's own load is reported apart
    assert 0 < rep["move_cycles"] < rep["cycles"] and rep["model_load_cycles"] > 0
    assert rep["gops"] == pytest.approx(2 * rep["macs"] / (rep["cycles"] / 100e6) / 1e9, rel=0.01)


def test_benchmark_fpga_row_has_the_engines_output() -> None:
    need_verilator()
    r = vp_edge_cli("benchmark", str(TINY), "--runtimes", "engine,fpga", "--no-qemu",
                    "--runs", "2", "--json", "-")  # fmt: skip
    rows = json.loads(r.stdout)["runtimes"]
    assert rows["fpga"]["output_sha256"] == rows["engine"]["output_sha256"]
    assert 0 < rows["fpga"]["utilisation"] < 1 and rows["fpga"]["clock_mhz"] == 100
