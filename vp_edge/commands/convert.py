"""``vp-edge convert``: full-int8 .tflite per variant, checked on LiteRT and tflite-micro."""

from __future__ import annotations

import argparse
from pathlib import Path

from vp_edge.commands._common import POSITIVE, add_json, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="convert a trained run to full-int8 TFLite with model cards (and strategy.json)",
        description="Export every variant (and the baseline) of a run with training=False, "
        "convert it to full int8 (int8 input and output, TFLITE_BUILTINS_INT8) calibrated on "
        "training images, refuse graphs with ops boards cannot run, run it on LiteRT's "
        "reference kernels and on tflite-micro, measure the tflite-micro arena, and write "
        "models/<name>.tflite and models/<name>.json (the model card). A run trained with "
        "--strategy gets every part (a .tflite, or a .vpb bundle for a multi-stage DISCO node) "
        "with its card, and the gateway's merge model (lcp, disco); every run gets "
        "strategy.json (what 'vp_edge.strategies.load_strategy' reads).",
    )
    p.add_argument("--run", type=Path, required=True, help="run directory made by 'vp-edge train'")
    p.add_argument(
        "--calibration",
        type=POSITIVE,
        default=200,
        help="training images used to calibrate int8 ranges (default 200)",
    )
    p.add_argument(
        "--test-limit", type=POSITIVE, default=None, help="evaluate on the first N test images only"
    )
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vp_edge.convert_run import convert_any

    kind, doc = convert_any(args.run, args.calibration, args.test_limit, show=True)
    emit(args, doc, strategy_table(args.run, doc) if kind == "strategy" else card_table(doc))
    return 0


def strategy_table(run: Path, doc: dict) -> str:
    """The parts of a strategy run with their cards (and the gateway's merge, if any)."""
    from converters.card import read_card
    from converters.rundir import RunDir

    names = [p["name"] for p in doc["parts"]]
    names += [Path(g["artefact"]).stem for g in doc.get("gateway", {}).values()]
    head = (
        f"{doc['strategy']:6} {'part':14} {'reply':7} {'params':>9} {'MACs':>11} "
        f"{'bytes':>8} {'arena B':>8}"
    )
    lines = [head, "-" * len(head)]
    for name in names:
        c = read_card(RunDir(run).card(name))
        reply = next((p["reply"] for p in doc["parts"] if p["name"] == name), "gateway")
        lines.append(
            f"{'':6} {name:14} {reply:7} {c['params']:>9,} {c['macs']:>11,} "
            f"{c['tflite_bytes']:>8,} {c['arena_bytes']:>8,}"
        )
    lines.append(f"(written {RunDir(run).strategy})")
    return "\n".join(lines)


def card_table(cards: dict[str, dict]) -> str:
    head = (
        f"{'model':12} {'params':>9} {'MACs':>11} {'tflite B':>9} {'arena B':>8} "
        f"{'float':>6} {'int8':>6} {'in scale':>9} {'zp':>5}"
    )
    lines = [head, "-" * len(head)]
    for name, c in cards.items():
        lines.append(
            f"{name:12} {c['params']:>9,} {c['macs']:>11,} {c['tflite_bytes']:>9,} "
            f"{c['arena_bytes']:>8,} {100 * c['float_accuracy']:>5.1f}% "
            f"{100 * c['int8_accuracy']:>5.1f}% "
            f"{c['input_scale']:>9.6f} {c['input_zero_point']:>5}"
        )
    return "\n".join(lines)
