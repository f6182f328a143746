"""``vp-edge benchmark``: one model's latency on every local runtime (like ``benchmark_model``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vp_edge.commands._common import NON_NEGATIVE, add_json, emit, int_range


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        aliases=["bench-model"],  # one model; `bench` (alias bench-run) reports on a whole run
        help="latency of one .tflite or .vpw on each local runtime (LiteRT, tflite-micro, "
        "C engine, QEMU firmware)",
        description="Load the model on each runtime, run one first inference, then a fixed "
        "number of timed runs on one seeded random int8 input (one thread), and print load "
        "time, first inference and median / fastest / slowest run in ms. A .tflite runs on "
        "LiteRT's reference kernels (offline evaluation's), its optimised builtin kernels and "
        "the XNNPACK delegate (what Linux boards serve with), on tflite-micro, and packed in "
        "memory on the C engine; a .vpw on "
        "the C engine. With QEMU and the ARM toolchain installed the Cortex-M4 firmware runs "
        "it too (row qemu-m4: a .tflite is packed in the Arm layout here; instructions counted "
        "under -icount, and instructions per MAC); qemu-m7 is the Cortex-M7 build. The exit "
        "status is 3 when a row fails or a row named in --runtimes cannot run. For a whole "
        "run against its baseline see 'vp-edge bench'.",
    )
    p.add_argument("model", type=Path, metavar="MODEL", help="a full-int8 .tflite or a .vpw")
    p.add_argument(
        "--runs",
        type=int_range(1, 100_000),
        default=50,
        help="timed runs per runtime, after one warm-up",
    )
    p.add_argument(
        "--runtimes",
        default=None,
        metavar="LIST",
        help="comma-separated subset of litert-ref, litert-builtin, xnnpack, tflm, "
        "engine, qemu-m4, qemu-m7 (default: all host runtimes that take the model, and qemu-m4), "
        "or fpga (the RTL-simulated PYNQ overlay)",
    )
    p.add_argument("--no-qemu", action="store_true", help="skip the default qemu-m4 row")
    p.add_argument(
        "--qemu-runs",
        type=int_range(1, 100),
        default=3,
        help="INFERs timed in QEMU (the count is deterministic)",
    )
    p.add_argument("--seed", type=NON_NEGATIVE, default=0, help="seed of the random input")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vp_edge.benchmark import benchmark_file, failed

    def show(rt: str) -> None:
        if args.json != "-":
            print(f"benchmark: {rt} ...", file=sys.stderr, flush=True)

    report = benchmark_file(
        args.model,
        args.runs,
        args.runtimes,
        qemu=not args.no_qemu,
        seed=args.seed,
        qemu_runs=args.qemu_runs,
        on_runtime=show,
    )
    emit(args, report, table(report))
    return 3 if failed(report, bool(args.runtimes)) else 0


def table(r: dict) -> str:
    lines = [
        f"{r['model']}: .{r['kind']}, {r['bytes']:,} bytes, {r['runs']} timed runs, "
        f"random int8 input (seed {r['seed']})",
        f"{'runtime':<15} {'load ms':>9} {'first ms':>9} {'median ms':>10} {'min ms':>9} "
        f"{'max ms':>9}  output",
    ]
    for name, row in r["runtimes"].items():
        if "skipped" in row or "error" in row:
            why = f"skipped: {row['skipped']}" if "skipped" in row else f"error: {row['error']}"
            lines.append(f"{name:<15} {why}")
        elif name == "fpga":
            lines.append(
                f"{name:<15} {'':>9} {'':>9} {row['ms']:>10.3f} {'':>9} {'':>9}  "
                f"{_same(r, name)}; {row['cycles']:,} cycles at {row['clock_mhz']:g} MHz, "
                f"{row['gops']} GOPS, {100 * row['utilisation']:.1f}% of the array"
                + (f"; on the PS: {', '.join(row['ps_layers'])}" if row["ps_layers"] else "")
            )
        elif "instructions" in row:
            per = row["instructions_per_mac"]
            lines.append(
                f"{name:<15} {row['instructions']:,} instructions per inference (not ms: QEMU "
                f"{row['machine']} -icount), " + (f"{per:.2f} per MAC" if per else "no MACs")
            )
            if "cycles_estimate" in row:
                lo, hi = row["cycles_estimate_range"]
                lines.append(
                    f"{'':<15} about {row['cycles_estimate']:,} Cortex-M4 cycles (estimate from "
                    f"the instruction mix, {lo:,}..{hi:,})"
                    + (f", {row['cycles_per_mac_estimate']:.2f} per MAC" if row["macs"] else "")
                )
            lines.append(
                f"{'':<15} firmware {row['firmware_flash_bytes']:,} B flash, "
                f"{row['firmware_ram_bytes']:,} B static RAM; model {row['model_bytes']:,} B, "
                f"arena {row['arena_bytes']:,} B"
            )
        else:
            lines.append(
                f"{name:<15} {row['load_ms']:>9.1f} {row['first_ms']:>9.3f} "
                f"{row['median_ms']:>10.3f} {row['min_ms']:>9.3f} {row['max_ms']:>9.3f}"
                f"  {_same(r, name)}"
            )
    return "\n".join(lines)


def _same(r: dict, name: str) -> str:
    """The output's hash, and whether it equals the first runtime's (the reference kernels)."""
    first, ref = next((n, x) for n, x in r["runtimes"].items() if "output_sha256" in x)
    sha = r["runtimes"][name]["output_sha256"]
    if name == first:
        return f"sha {sha}"
    return f"sha {sha} " + ("(same)" if sha == ref["output_sha256"] else f"(differs from {first})")
