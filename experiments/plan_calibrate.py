"""Measure the planner's cost models on untrained candidates (``vp-edge plan`` reads the result).

Each candidate (r, alpha, F) is built with random weights, converted to full int8 and packed
(vp_edge.plan.candidates); then measured: .tflite and .vpw bytes, the packer's arena, tflite-micro's
arena (measured by probing, as ``vp-edge convert`` does), instructions of one inference on the
Cortex-M4 and Cortex-M7 firmware in QEMU (``-icount shift=0``, the bench's counting path), and the
median host milliseconds of LiteRT+XNNPACK and of the C engine. The rows go to
``vp_edge/plan/costs.json`` with the machine, the date and a hash of the engine's C sources; the
planner fits its linear models on them when it loads (vp_edge.plan.costs).

    python -m experiments.plan_calibrate [--out vp_edge/plan/costs.json] [--only N]

About a minute per candidate on an idle 2-core machine (conversion, arena probing, two QEMU runs).
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

CALIBRATION_FAMILY = Family(
    name="calibration",
    input_shape=(28, 28, 1),
    num_classes=10,
    variants=tuple(Variant(f"c{i}", r, a, f) for i, (r, a, f) in enumerate(GRID)),
    output_stride=16,
)


def measure(family: Family, v: Variant) -> dict:
    from converters.card import measure_arena
    from experiments.bench.mcu import tflite_core_counts
    from vp_edge.benchmark import benchmark
    from vp_edge.plan.candidates import convert_candidate

    a = convert_candidate(family, v)
    with tempfile.TemporaryDirectory(prefix="vp-plan-cal-") as tmp:
        path = Path(tmp) / f"{v.name}.tflite"
        path.write_bytes(a.tflite)
        tflm_arena = measure_arena(path)
    cores = tflite_core_counts(a.tflite, cores=("cortex-m4", "cortex-m7"))
    host = benchmark("tflite", a.tflite, runs=30, runtimes=("xnnpack", "engine"), qemu=False)
    row = {
        "resolution": v.resolution,
        "alpha": v.alpha,
        "head": v.head,
        "tflite_bytes": len(a.tflite),
        "vpw_generic_bytes": len(a.vpw_generic),
        "vpw_arm_bytes": len(a.vpw_arm),
        "arena_engine": a.arena_engine,
        "arena_tflm": tflm_arena,
        "xnnpack_ms": host["runtimes"]["xnnpack"].get("median_ms"),
        "engine_ms": host["runtimes"]["engine"].get("median_ms"),
    }
    for core in ("cortex-m4", "cortex-m7"):
        c = cores.get("cores", {}).get(core, {})
        row[f"{core}_instructions"] = c.get("value")
    row["macs"] = counts(shape_of(family, v)).macs
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=COSTS_FILE)
    ap.add_argument("--only", type=int, default=None, help="measure the first N shapes only")
    ap.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows of --out measured on the same engine sources",
    )
    args = ap.parse_args(argv)
    fam = CALIBRATION_FAMILY
    rows = _kept_rows(args.out) if args.resume else []
    done = {(r["resolution"], r["alpha"], r["head"]) for r in rows}
    todo = [v for v in fam.variants[: args.only] if (v.resolution, v.alpha, v.head) not in done]
    for i, v in enumerate(todo):
        rows.append(measure(fam, v))
        print(f"[{i + 1}/{len(todo)}] {json.dumps(rows[-1])}", flush=True)
        _write(args.out, fam, rows)
    _write(args.out, fam, rows)
    print(f"wrote {args.out} ({len(rows)} candidates)")
    return 0


def _kept_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    doc = json.loads(path.read_text())
    return doc["rows"] if doc.get("engine_sources_sha256") == engine_sources_sha256() else []


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
    path.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
