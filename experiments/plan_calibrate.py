"""Measure the planner's cost models on untrained candidates (``vp-edge plan`` reads the result).

Each candidate (r, alpha, F) is built with random weights, converted to full int8 and packed
(vp_edge.plan.candidates); then measured: .tflite and .vpw bytes, the packer's arena, tflite-micro's
arena (measured by probing, as ``vp-edge convert`` does), instructions of one inference on the
Cortex-M4 and Cortex-M7 firmware in QEMU (``-icount shift=0``, the bench's counting path), and the
median host milliseconds of LiteRT+XNNPACK and of the C engine. The rows go to
``vp_edge/plan/costs.json`` with the machine, the date and a hash of the engine's C sources; the
planner fits its linear models on them when it loads (vp_edge.plan.costs).

    python -m experiments.plan_calibrate [--out vp_edge/plan/costs.json] [--only N] [--resume]
    python -m experiments.plan_calibrate --counts --resume   # MCU_GRID: bytes and counts only

About a minute per candidate on an idle 2-core machine (conversion, arena probing, two QEMU runs);
``--counts`` measures the microcontrollers' own grid (alpha <= 0.4, what fits their flash) for
bytes, the packer's arena and the two instruction counts only, keeping the other quantities a
row already has: more, smaller candidates for the instruction model at half the cost.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import tempfile
from pathlib import Path

from vp_edge.family import Family, Variant
from vp_edge.plan.costs import COSTS_FILE, engine_sources_sha256
from vp_edge.plan.shapes import counts, shape_of

#: shapes that span the planner's grid (resolution, alpha, head). Those with alpha <= 0.4 fit the
#: firmware's 440 KB slot and get instruction counts (the microcontrollers' whole search space:
#: wider ones do not fit their flash); the wider ones measure bytes, arenas and host time.
GRID = (
    (16, 0.35, 128), (16, 0.75, 256), (20, 0.35, 192), (24, 0.4, 128), (24, 0.35, 384),
    (28, 0.35, 256), (28, 0.4, 320), (32, 0.4, 192), (32, 0.5, 128), (36, 0.35, 128),
    (40, 0.4, 256), (40, 1.0, 128),
)  # fmt: skip
#: more candidates in the microcontrollers' search space (alpha <= 0.4, .vpw within the slot),
#: for the instruction model; the mixed fleet's planned MCU members (16, 0.35, 384) and
#: (16, 0.4, 256) are left out on purpose, so ``plan_check`` measures them held out
MCU_GRID = (
    (16, 0.4, 192), (16, 0.35, 256), (20, 0.4, 128), (20, 0.35, 320), (24, 0.4, 256),
    (24, 0.35, 128), (28, 0.35, 384), (28, 0.4, 128), (32, 0.35, 256), (36, 0.4, 192),
    (40, 0.35, 320), (20, 0.4, 192),
)  # fmt: skip


def _family(grid: tuple[tuple[int, float, int], ...]) -> Family:
    return Family(
        name="calibration",
        input_shape=(28, 28, 1),
        num_classes=10,
        variants=tuple(Variant(f"c{i}", r, a, f) for i, (r, a, f) in enumerate(grid)),
        output_stride=16,
    )


CALIBRATION_FAMILY = _family(GRID)


def measure(family: Family, v: Variant, counts_only: bool = False) -> dict:
    """One candidate's row; ``counts_only`` skips tflite-micro's arena and the host timings."""
    from experiments.bench.mcu import tflite_core_counts
    from vp_edge.plan.candidates import convert_candidate

    a = convert_candidate(family, v)
    row: dict = {
        "resolution": v.resolution,
        "alpha": v.alpha,
        "head": v.head,
        "tflite_bytes": len(a.tflite),
        "vpw_generic_bytes": len(a.vpw_generic),
        "vpw_arm_bytes": len(a.vpw_arm),
        "arena_engine": a.arena_engine,
    }
    if not counts_only:
        row.update(_tflm_and_host(a.tflite, v.name))
    cores = tflite_core_counts(a.tflite, cores=("cortex-m4", "cortex-m7"))
    for core in ("cortex-m4", "cortex-m7"):
        c = cores.get("cores", {}).get(core, {})
        row[f"{core}_instructions"] = c.get("value")
    row["macs"] = counts(shape_of(family, v)).macs
    return row


def _tflm_and_host(tfl: bytes, name: str) -> dict:
    """tflite-micro's arena (probed, as ``vp-edge convert`` does) and the host's median ms."""
    from converters.card import measure_arena
    from vp_edge.benchmark import benchmark

    with tempfile.TemporaryDirectory(prefix="vp-plan-cal-") as tmp:
        path = Path(tmp) / f"{name}.tflite"
        path.write_bytes(tfl)
        tflm_arena = measure_arena(path)
    host = benchmark("tflite", tfl, runs=30, runtimes=("xnnpack", "engine"), qemu=False)
    return {
        "arena_tflm": tflm_arena,
        "xnnpack_ms": host["runtimes"]["xnnpack"].get("median_ms"),
        "engine_ms": host["runtimes"]["engine"].get("median_ms"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=COSTS_FILE)
    ap.add_argument("--only", type=int, default=None, help="measure the first N shapes only")
    ap.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows of --out measured on the same engine sources",
    )
    ap.add_argument(
        "--counts",
        action="store_true",
        help="GRID and MCU_GRID shapes with alpha <= 0.4: bytes, packer arena and instruction "
        "counts only; tflite-micro arenas and host times are kept from --out's rows",
    )
    args = ap.parse_args(argv)
    grid = tuple(g for g in GRID + MCU_GRID if g[1] <= 0.4) if args.counts else GRID
    fam = _family(grid)
    rows = _kept_rows(args.out, args.counts) if args.resume or args.counts else []
    by_knobs = {_knobs(r): r for r in rows}
    fresh = engine_sources_sha256() if args.resume else None
    done = {k for k, r in by_knobs.items() if fresh and r.get("counted_on") == fresh}
    todo = [v for v in fam.variants[: args.only] if (v.resolution, v.alpha, v.head) not in done]
    for i, v in enumerate(todo):
        row = measure(fam, v, counts_only=args.counts)
        kept = by_knobs.get(_knobs(row), {})
        by_knobs[_knobs(row)] = {**kept, **row, "counted_on": engine_sources_sha256()}
        print(f"[{i + 1}/{len(todo)}] {json.dumps(row)}", flush=True)
        _write(args.out, fam, list(by_knobs.values()))
    _write(args.out, fam, list(by_knobs.values()))
    print(f"wrote {args.out} ({len(by_knobs)} candidates)")
    return 0


def _knobs(row: dict) -> tuple[int, float, int]:
    return int(row["resolution"]), float(row["alpha"]), int(row["head"])


def _kept_rows(path: Path, keep_stale: bool = False) -> list[dict]:
    """--out's rows marked with the engine sources they were counted on (``counted_on``); rows
    of other sources are dropped, or with ``keep_stale`` kept without their instruction counts."""
    if not path.exists():
        return []
    doc = json.loads(path.read_text())
    rows = []
    for r in doc["rows"]:
        sha = r.get("counted_on", doc.get("engine_sources_sha256"))
        if sha == engine_sources_sha256():
            rows.append({**r, "counted_on": sha})
        elif keep_stale:
            rows.append({k: v for k, v in r.items() if not k.endswith("_instructions")})
    return rows


def _write(path: Path, fam: Family, rows: list[dict]) -> None:
    """Written after every candidate, so an interrupted calibration resumes (--resume)."""
    doc = {
        "about": "measured by python -m experiments.plan_calibrate; vp-edge plan fits on these",
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
        f"python {platform.python_version()}",
        "engine_sources_sha256": engine_sources_sha256(),
        "input_shape": list(fam.input_shape),
        "num_classes": fam.num_classes,
        "output_stride": fam.output_stride,
        "stem_stride": fam.stem_stride,
        "rows": rows,
    }
    if path.exists():  # measured by experiments.plan_overhead, not here: kept as it is
        kept = json.loads(path.read_text()).get("udp_overhead")
        if kept is not None:
            doc["udp_overhead"] = kept
    path.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
