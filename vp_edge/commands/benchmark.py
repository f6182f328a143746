"""``vp-edge benchmark``: one model's latency on every local runtime (like ``benchmark_model``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vp_edge.commands._common import NON_NEGATIVE, add_json, emit, int_range, read_model


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="latency of one .tflite or .vpw on each local runtime (LiteRT, tflite-micro, "
        "C engine, QEMU firmware)",
        description="Load the model on each runtime, run one first inference, then a fixed "
        "number of timed runs on one seeded random int8 input (one thread), and print load "
        "time, first inference and median / fastest / slowest run in ms. A .tflite runs on "
        "LiteRT's reference kernels (offline evaluation's), its optimised builtin kernels and "
        "the XNNPACK delegate (what Linux boards serve with), on tflite-micro, and packed in "
        "memory on the C engine; a .vpw on "
        "the C engine. With QEMU and the ARM toolchain installed the Cortex-M4 firmware runs "
        "it too (instruction count under -icount). For a whole run against its baseline see "
        "'vp-edge bench'.",
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
        "engine (default: all that take the model), or fpga (the RTL-simulated PYNQ overlay)",
    )
    p.add_argument("--no-qemu", action="store_true", help="skip the QEMU firmware")
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
    from vp_edge.benchmark import EXTRA_RUNTIMES, TFLITE_RUNTIMES, benchmark
    from vp_edge.errors import UsageError

    kind, data = read_model(args.model, "MODEL")
    runtimes = None
    if args.runtimes:
        runtimes = tuple(r.strip() for r in args.runtimes.split(",") if r.strip())
        if unknown := sorted(set(runtimes) - set(TFLITE_RUNTIMES) - set(EXTRA_RUNTIMES)):
            raise UsageError(
                f"--runtimes: unknown {', '.join(unknown)}; known: {', '.join(TFLITE_RUNTIMES)}"
            )

    def show(rt: str) -> None:
        if args.json != "-":
            print(f"benchmark: {rt} ...", file=sys.stderr, flush=True)

    report = benchmark(
        kind,
        data,
        args.runs,
        runtimes,
        qemu=not args.no_qemu,
        seed=args.seed,
        qemu_runs=args.qemu_runs,
        on_runtime=show,
    )
    report["model"] = str(args.model)
    emit(args, report, table(report))
    ok = [r for r in report["runtimes"].values() if "median_ms" in r]
    return 0 if ok else 3


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
        elif name == "qemu":
            lines.append(
                f"{name:<15} {'':>9} {'':>9} {row['median_ms']:>10.3f} {'':>9} {'':>9}  "
                f"{row['instructions']:,} instructions per inference (virtual time)"
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
