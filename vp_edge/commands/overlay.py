"""``vp-edge overlay``: the PYNQ-Z2 FPGA overlay (fpga/, docs/pynq.md).

  vp-edge overlay synth [--json]              Yosys synth_xilinx resources vs the xc7z020
  vp-edge overlay build --out DIR [--json]    Verilog + Vivado IP packaging / block design Tcl
  vp-edge overlay run MODEL.vpw [--images N] [--random] [--layers K] [--json]
                                              the Verilated RTL vs the C engine: differing values,
                                              cycles, ms at the design clock, effective GOPS

Exit codes: 0 ok, 4 the RTL differs from the engine, 2 usage (a model the overlay refuses, a
missing tool), 3 a tool failed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vp_edge.commands._common import add_json, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "overlay",
        help="the PYNQ-Z2 FPGA overlay: synthesis report, Vivado scripts, RTL simulation",
        description="The int8 accelerator in RTL (fpga/, Amaranth HDL) for the PYNQ-Z2's "
        "xc7z020 (docs/pynq.md).",
    )
    cmds = p.add_subparsers(dest="overlay_cmd", metavar="ACTION")
    s = cmds.add_parser("synth", help="Yosys synth_xilinx -family xc7: LUT, FF, DSP48E1, BRAM")
    s.add_argument("--top", default="vp_core", choices=("vp_core", "vp_top", "vp_dma"))
    add_json(s)
    s.set_defaults(func=run_synth)
    b = cmds.add_parser(
        "build",
        help="write vp_top.v, the IP packaging and block-design Tcl for Vivado",
        description="Vivado is needed to run the scripts (vp.bit + vp.hwh); they are generated "
        "and checked against the RTL's ports and register map, not run here.",
    )
    b.add_argument("--out", type=Path, required=True)
    add_json(b)
    b.set_defaults(func=run_build)
    r = cmds.add_parser("run", help="simulate a .vpw on the Verilated RTL against the C engine")
    r.add_argument("model", type=Path, help="a .vpw (vp-edge pack)")
    r.add_argument("--images", type=int, default=20, help="inputs to run (default 20)")
    r.add_argument(
        "--random",
        action="store_true",
        help="random int8 inputs instead of Fashion-MNIST test images",
    )
    r.add_argument(
        "--layers",
        type=int,
        default=0,
        metavar="K",
        help="also check every overlay layer's result on the first K inputs",
    )
    add_json(r)
    r.set_defaults(func=run_sim)


def run_synth(args: argparse.Namespace) -> int:
    from fpga.synth import synth_report

    rep = synth_report(top=args.top)
    rows = [f"{'resource':<10}{'used':>10}{'xc7z020':>10}{'%':>8}"]
    for k, v in rep["resources"].items():
        rows.append(f"{k:<10}{v['used']:>10g}{v['total']:>10}{v['percent']:>8}")
    rows.append(f"fits: {rep['fits']}  ({rep['tool']}; clock assumed {rep['clock_mhz']:g} MHz)")
    emit(args, rep, "\n".join(rows))
    return 0


def run_build(args: argparse.Namespace) -> int:
    from fpga.vivado import write_build

    rep = write_build(args.out)
    emit(args, rep, f"wrote {', '.join(rep['files'])} to {rep['out']} (Vivado not run here)")
    return 0


def run_sim(args: argparse.Namespace) -> int:
    from vp_edge.overlay_run import overlay_exit_code, simulate_overlay

    rep = simulate_overlay(args.model, args.images, args.random, args.layers)
    table = (
        f"{args.model.name}: {rep['differing']} differing of {rep['values']} int8 values over "
        f"{rep['inputs']} inputs; {rep['cycles']} cycles = {rep['ms']} ms at "
        f"{rep['clock_mhz']:g} MHz; {rep['macs']} MACs -> {rep['gops']} GOPS effective "
        f"({100 * rep['utilisation']:.1f}% of the {rep['peak_gops']} GOPS array); PS layers: "
        f"{', '.join(rep['ps_layers']) or 'none'}\ndata movement: {rep['move_cycles']} of the "
        f"cycles (the AXI master reading the input, writing the output; DDR latency "
        f"{rep['ddr_latency_cycles']} cycles); the model itself: {rep['model_load_cycles']} "
        "cycles once"
    )
    if rep["layer_inputs"]:
        table += (
            f"\nevery overlay layer, first {rep['layer_inputs']} inputs: "
            f"{rep['layer_differing']} differing of {rep['layer_values']} int8 values"
        )
    emit(args, rep, table)
    return overlay_exit_code(rep)
