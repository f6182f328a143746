"""``vp-edge evaluate``: offline accuracy of variants, ensemble and m-of-N subsets."""

from __future__ import annotations

import argparse
from pathlib import Path

from vp_edge.commands._common import POSITIVE, K, add_json, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="offline int8 accuracy: per variant, ensemble per rule and k, m boards alive",
        description="Run each int8 variant of a converted run over the test set on LiteRT's "
        "reference kernels (one thread per worker), then vote offline: accuracy per variant, "
        "of the ensemble for every rule (reference, sum, majority, learned) and k, and for "
        "every number m of boards alive the mean and worst subset, against the baseline. "
        "These are the numbers the live gateway must reproduce exactly.",
    )
    p.add_argument("--run", type=Path, required=True, help="a converted run directory")
    p.add_argument("-k", "--k", type=K, default=2, help="k for the boards-alive table (default 2)")
    p.add_argument("--test-limit", type=POSITIVE, default=None, help="first N test images only")
    p.add_argument(
        "--engine-check",
        action="store_true",
        help="also run the C engine on each variant's .vpw over the test set and "
        "compare every int8 value with LiteRT's reference kernels",
    )
    p.add_argument(
        "--plots", type=Path, default=None, help="folder for PNG plots (default RUN/report)"
    )
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vp_edge.evaluate_run import evaluate_run
    from vp_edge.report import evaluation_table

    report = evaluate_run(args.run, args.k, args.test_limit, args.engine_check, args.plots)
    sizes = report["splits"]
    head = (
        f"data: train {sizes['train']:,}, val {sizes['val']:,}, test {sizes['test']:,} "
        f"images (evaluated on test); classes {', '.join(report['class_names'])}\n"
    )
    emit(args, report, head + evaluation_table(report) + "\nplots: " + ", ".join(report["plots"]))
    return 0
