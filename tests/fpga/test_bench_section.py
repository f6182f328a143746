"""The bench's FPGA section (experiments.bench.fpga): the markdown from a result dict, a refused
model's row, a missing run's one-line error, and one real row through the Verilated RTL on the
pynq fixture (only when the simulator is already built: seconds, never a build)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import need_verilator

from experiments.bench import fpga as section

TINY = Path(__file__).parents[1] / "pynq" / "data" / "tiny.vpw"


def _row(name: str, gops: float) -> dict:
    return {
        "model": name, "input_kind": "Fashion-MNIST test images", "inputs": 200,
        "values": 2000, "differing": 0, "layer_inputs": 3, "layer_values": 170766,
        "layer_differing": 0, "cycles": 25535, "move_cycles": 1246, "model_load_cycles": 60044,
        "ms": 0.2554, "macs": 1757472, "gops": gops, "utilisation": 0.2689,
        "ps_layers": ["0:RESIZE_NEAREST_NEIGHBOR", "65:SOFTMAX"],
    }  # fmt: skip


def _result(synth: dict | None) -> dict:
    return {
        "command": "python -m experiments.bench.fpga --run R", "when": "now", "machine": "m",
        "run": "R", "clock_mhz": 100.0, "lanes": 16, "peak_gops": 51.2,
        "variants": [_row("a04_r24", 13.77), _row("a04_r40", 14.38),
                     {"model": "big", "refused": "the weight memory needs 8860 words"}],
        "synth": synth, "synth_note": "cached",
        "anchors": [{"what": w, "figure": f, "source": s, "tag": "paper"}
                    for w, f, s in section.ANCHORS],
    }  # fmt: skip


def test_markdown_from_a_result() -> None:
    synth = {
        "tool": "yosys", "top": "vp_core", "part": "xc7z020clg400-1", "fits": True,
        "resources": {"DSP48E1": {"used": 194, "total": 220, "percent": 88.2}},
    }  # fmt: skip
    md = section.markdown(_result(synth))
    assert (
        "| a04_r24 | 200 Fashion-MNIST test images | 0 of 2,000 | 0 of 170,766 (3) | 25,535 "
        "| 1,246 | 60,044 | 0.255 | 1,757,472 | 13.77 | 26.9 % "
        "| RESIZE_NEAREST_NEIGHBOR, SOFTMAX |" in md
    )
    assert "| big | refused: the weight memory needs 8860 words |" in md
    assert "lowest effective GOPS 13.77" in md and "0 differing int8 values" in md
    assert "| DSP48E1 | 194 | 220 | 88.2 |" in md and "**True**" in md
    assert "| xc7z020 int8 peak, 1 MAC per DSP48E1, 100 MHz | 44 GOPS |" in md
    assert "172.8 GOPS" in md and "peak 51.2 GOPS" in md


def test_no_cached_synthesis_is_said() -> None:
    r = _result(None)
    r["synth_note"] = "no cached synthesis of this design"
    assert "Synthesis: not shown, no cached synthesis of this design." in section.markdown(r)


def test_missing_run_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert section.main(["--run", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "family.json not found" in err and "\n" not in err


def test_one_real_row_on_the_tiny_model() -> None:
    need_verilator()
    from fpga.errors import ToolMissing
    from fpga.sim import build_simulator

    try:
        build_simulator(build=False)
    except ToolMissing as e:
        pytest.skip(f"{e} (tests/fpga's other tests build it)")
    v = section.variant_row("tiny", TINY.read_bytes(), images=2, layers=1)
    assert v["inputs"] == 2 and v["values"] == 20 and v["differing"] == 0
    assert v["layer_values"] > 0 and v["layer_differing"] == 0
    assert v["ps_layers"] == ["5:SOFTMAX"] and 0 < v["move_cycles"] < v["cycles"]
    assert 0 < v["utilisation"] < 1
    assert "| tiny | 2 random + real-looking | 0 of 20 |" in section.markdown(
        {**_result(None), "variants": [v]}
    )


def test_the_section_goes_into_report_md_once(tmp_path: Path) -> None:
    from experiments.bench.report_fmt import splice_section

    report = tmp_path / "report.md"
    report.write_text("# Bench\n\n<!-- kernels -->\nK\n<!-- /kernels -->\n")
    splice_section(report, "fpga", "old\n")
    splice_section(report, "fpga", "new\n")
    text = report.read_text()
    assert text.count("<!-- fpga -->") == 1 and "new\n<!-- /fpga -->" in text
    assert "old" not in text and "<!-- kernels -->\nK\n<!-- /kernels -->" in text


def test_cached_report_reads_a_result_and_never_runs_yosys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from fpga import synth

    stat = tmp_path / "vp_core-synth-x.stat.json"
    monkeypatch.setattr(synth, "_stat_path", lambda cfg, top: (tmp_path / "v.v", stat))
    monkeypatch.setattr(synth.shutil, "which", lambda name: pytest.fail("ran a tool"))
    assert synth.cached_report() is None
    cells = {"LUT6": 30000, "FDRE": 100, "DSP48E1": 194, "RAMB36E1": 37, "RAMB18E1": 171}
    stat.write_text(json.dumps({"design": {"num_cells_by_type": cells}}))
    rep = synth.cached_report()
    assert rep is not None and rep["fits"] and rep["resources"]["BRAM36"]["used"] == 122.5
