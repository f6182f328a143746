"""Bench section "FPGA": the RTL overlay (fpga/) per variant of a run, its synthesis, the anchors.

Per variant (each ``.vpw`` packed as the PYNQ board gets it: ``converters.vpw_run.board_vpw``),
on N Fashion-MNIST test images through the Verilated RTL and the C engine: int8 output values
that differ, cycles per inference (the AXI master moving the input in and the output out
included, the one-time model load apart), ms at the design clock, effective GOPS
(2 x MACs / simulated time), utilisation of the MAC array's peak and the ops run on the PS.
Then the Yosys resource table (a cached result only unless ``--synth``: synthesis takes 10 to 40
minutes) and the published figures for the xc7z020 beside them.

``python -m experiments.bench.fpga --run RUN --out bench/results [--images N] [--json]`` writes
fpga.json and fpga.md and puts the section into report.md (between the ``fpga`` markers), as
the kernels section does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from experiments.bench.report_fmt import splice_section

#: the anchors of ../shared/reference/fpga-accelerator.md: (what, figure, source)
ANCHORS = (
    (
        "xc7z020 int8 peak, 1 MAC per DSP48E1, 100 MHz",
        "44 GOPS",
        "DS190 (220 DSP48E1) x 2 ops x 100 MHz",
    ),
    (
        "xc7z020 int8 peak, 2 MACs per DSP48E1 (16-bit lane packing), 100 MHz",
        "88 GOPS",
        "DS190 (220 DSP48E1) x 2 MACs x 2 ops x 100 MHz; packing as WP486/WP487",
    ),
    (
        "Vitis AI DPU B1152 peak, 150 MHz (DSPs on a 300 MHz 2x clock)",
        "172.8 GOPS (1152 ops a cycle)",
        "Xilinx PG338 v1.2; DNNDK on PYNQ-Z2 (wutianze/dnndk-pynqz2)",
    ),
    (
        "LoRPIA, SystemVerilog, XC7Z020 (preprint)",
        "MobileNetV2 13.05 fps, MobileNetV1 8.54 fps, 1.25 W",
        "doi:10.21203/rs.3.rs-8118065/v1",
    ),
    (
        "YOLOv2 in HLS, PYNQ (Z7020), fixed-16, 130 MHz",
        "11.39 GOP/s (106 DSP, 100 BRAM36)",
        "dhm2013724/yolov2_xilinx_fpga README",
    ),
    (
        "MobileNetV2-class results on a Z7020",
        "about 8-13 GOPS",
        "issue 23's survey of the above (shared/reference/fpga-accelerator.md)",
    ),
)


def variant_vpws(run: Path) -> list[tuple[str, bytes]]:
    """(name, .vpw) of every variant of the run's family, packed as the PYNQ board gets it."""
    from converters.rundir import RunDir
    from converters.vpw_run import board_vpw
    from vp_edge.errors import VpEdgeError

    rd = RunDir(run)
    if not rd.family.exists():
        raise VpEdgeError(f"{rd.family} not found: --run must be a trained run (vp-edge train)")
    out = []
    for v in json.loads(rd.family.read_text())["variants"]:
        tfl = rd.model(v["name"])
        if not tfl.exists():
            raise VpEdgeError(f"{tfl} not found: convert the run first (vp-edge convert)")
        out.append((v["name"], board_vpw(tfl.read_bytes())))
    return out


def variant_row(name: str, vpw: bytes, images: int, layers: int) -> dict:
    """One variant on the first ``images`` inputs (Fashion-MNIST for 28x28x1 models)."""
    from experiments.fpga_exact import model_inputs
    from fpga.bench import evaluate
    from fpga.errors import FpgaError, ToolFailed, ToolMissing
    from fpga.program import read_program

    try:
        read_program(vpw)  # refused at pack time, naming the layer (never run approximately)
    except (ToolFailed, ToolMissing):
        raise
    except FpgaError as e:
        return {"model": name, "refused": str(e)}
    xs, kind = model_inputs(vpw, images)
    return {"model": name, "input_kind": kind, **evaluate(vpw, xs, layers=layers)}


def synth_section(run_synth: bool) -> tuple[dict | None, str]:
    """(the Yosys report or None, a note on where it came from)."""
    from fpga.synth import cached_report, synth_report

    if run_synth:
        return synth_report(), "run now (`--synth`)"
    rep = cached_report()
    if rep is None:
        return None, (
            "no cached synthesis of this design: run `vp-edge overlay synth` (10 to 40 minutes) "
            "or this command with `--synth`"
        )
    return rep, "cached result of `vp-edge overlay synth --json` for this design"


def collect(args: argparse.Namespace, argv: list[str]) -> dict:
    from fpga.config import DEFAULT

    rows = []
    for name, vpw in variant_vpws(args.run):
        rows.append(variant_row(name, vpw, args.images, args.layers))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    synth, note = synth_section(args.synth)
    return {
        "command": "python -m experiments.bench.fpga " + " ".join(argv),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end",
        "run": str(args.run),
        "clock_mhz": DEFAULT.clock_mhz,
        "lanes": DEFAULT.lanes,
        "peak_gops": round(2 * DEFAULT.peak_macs * DEFAULT.clock_mhz / 1e3, 1),
        "variants": rows,
        "synth": synth,
        "synth_note": note,
        "anchors": [{"what": w, "figure": f, "source": s, "tag": "paper"} for w, f, s in ANCHORS],
    }


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def variant_table(r: dict) -> list[str]:
    lines = [
        f"| model | inputs | output values differing [M] | layer values differing [M] "
        f"| cycles [M] | of them moving data [M] | model load, once [M] | ms @ {r['clock_mhz']:g} "
        "MHz [Mod] | MACs [M] | effective GOPS [Mod] | array utilisation [M] | on the PS |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for v in r["variants"]:
        if "refused" in v:
            lines.append(f"| {v['model']} | refused: {v['refused']} |" + " |" * 10)
            continue
        layer = (
            f"{v['layer_differing']:,} of {v['layer_values']:,} ({v['layer_inputs']})"
            if v["layer_inputs"]
            else "not checked"
        )
        ps = ", ".join(s.split(":", 1)[1] for s in v["ps_layers"]) or "none"
        lines.append(
            f"| {v['model']} | {v['inputs']} {v['input_kind']} "
            f"| {v['differing']:,} of {v['values']:,} | {layer} | {v['cycles']:,} "
            f"| {v['move_cycles']:,} | {v['model_load_cycles']:,} | {v['ms']:.3f} "
            f"| {v['macs']:,} | {v['gops']:.2f} | {_pct(v['utilisation'])} | {ps} |"
        )
    return lines


def synth_table(r: dict) -> list[str]:
    s = r["synth"]
    if s is None:
        return [f"Synthesis: not shown, {r['synth_note']}."]
    lines = [
        f"Yosys `{s['tool']}`, top `{s['top']}`, part {s['part']} ({r['synth_note']}); fits the "
        f"xc7z020 (DSP48E1 <= 220, BRAM36 <= 140, LUT <= 80 %): **{s['fits']}**.",
        "",
        "| resource | used [M] | xc7z020 | % |",
        "|---|---:|---:|---:|",
    ]
    for k, v in s["resources"].items():
        lines.append(f"| {k} | {v['used']:,} | {v['total']:,} | {v['percent']} |")
    return lines


def anchor_table(r: dict) -> list[str]:
    lines = [
        f"Ours: a {r['lanes']}x{r['lanes']} int8 array, {r['lanes'] ** 2} MACs a cycle, "
        f"peak {r['peak_gops']:g} GOPS at the assumed {r['clock_mhz']:g} MHz [Mod].",
        "",
        "| published / derived | figure [P] | source |",
        "|---|---|---|",
    ]
    lines += [f"| {a['what']} | {a['figure']} | {a['source']} |" for a in r["anchors"]]
    return lines


def markdown(r: dict) -> str:
    """The section: the variants, the synthesis, the anchors, the command and the machine."""
    vs = [v for v in r["variants"] if "refused" not in v]
    low = min((v["gops"] for v in vs), default=0.0)
    lines = [
        "## FPGA (the RTL overlay on the PYNQ-Z2's xc7z020, simulated cycle by cycle)",
        "",
        f"`{r['command']}` — {r['when']}, {r['machine']}. Run `{r['run']}`, each variant packed "
        "as the PYNQ board gets it (`converters.vpw_run.board_vpw`), run on the Verilated RTL "
        "(`fpga/sim.py`) and on the C engine. [M] counted in the simulation; [Mod] from those "
        f"counts at the assumed {r['clock_mhz']:g} MHz clock (FCLK0's default; Yosys gives no "
        "timing, that needs Vivado); [P] published. Cycles: the slowest input's, input to "
        "output, the AXI master moving the input in and the output out through the DDR model "
        "included; the model's one-time load apart. GOPS = 2 x MACs / simulated time.",
        "",
        *variant_table(r),
        "",
        f"{sum(v['differing'] + v['layer_differing'] for v in vs)} differing int8 values in all; "
        f"lowest effective GOPS {low:.2f}.",
        "",
        "### Resources (Yosys)",
        "",
        *synth_table(r),
        "",
        "### Anchors",
        "",
        *anchor_table(r),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="python -m experiments.bench.fpga", description=__doc__)
    ap.add_argument("--run", type=Path, required=True, help="a trained, converted run")
    ap.add_argument("--out", type=Path, default=Path("bench/results"), help="report directory")
    ap.add_argument("--images", type=int, default=200, help="test images per variant (200)")
    ap.add_argument("--layers", type=int, default=1, help="layer-by-layer check on the first K")
    ap.add_argument("--synth", action="store_true", help="run Yosys if no result is cached")
    ap.add_argument("--json", action="store_true", help="also print the result as JSON")
    args = ap.parse_args(argv)
    if args.images < 1:
        ap.error("--images must be at least 1")
    from vp_edge.errors import VpEdgeError

    try:
        r = collect(args, argv)
    except VpEdgeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fpga.json").write_text(json.dumps(r, indent=1) + "\n")
    (args.out / "fpga.md").write_text(markdown(r))
    splice_section(args.out / "report.md", "fpga", markdown(r))
    print(json.dumps(r, indent=1) if args.json else markdown(r))
    ran = [v for v in r["variants"] if "refused" not in v]
    return 4 if any(v["differing"] or v["layer_differing"] for v in ran) else 0


if __name__ == "__main__":
    sys.exit(main())
