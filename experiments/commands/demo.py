"""``vp-edge demo``: the whole job end to end on emulated boards and bundled data."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from vp_edge.commands._common import EPOCHS, POSITIVE, add_json, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="train -> convert -> evaluate -> live boards, end to end",
        description="Train the 'fashion' family and its baseline on Fashion-MNIST (Debian "
        "package dataset-fashion-mnist), convert to full int8, evaluate offline, then run the "
        "ensemble live through emulated boards (with boards killed mid-run). Rerunning with "
        "the same --out reuses what is done. The default budget takes about ten minutes on "
        "2 cores; --quick a few minutes; --long (all training images, five epochs) most of "
        "an hour.",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small budget (one epoch on a subset)")
    size.add_argument(
        "--long",
        action="store_true",
        help="large budget: five epochs on all training images (runs/long)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="run directory (default runs/demo, runs/quick or runs/long)",
    )
    p.add_argument("--epochs", type=EPOCHS, default=None, help="override the budget's epochs")
    p.add_argument("--train-limit", type=POSITIVE, default=None, help="override training images")
    p.add_argument("--test-limit", type=POSITIVE, default=None, help="override test images")
    p.add_argument("--live-images", type=POSITIVE, default=None, help="images sent through boards")
    p.add_argument(
        "--augment",
        action="store_true",
        help="random flips and 2-px shifts while training (variants and baseline)",
    )
    p.add_argument("--no-live", action="store_true", help="skip the emulated-boards part")
    p.add_argument(
        "--fleet",
        action="store_true",
        help="the fleet demo on a trained run (--out, default runs/demo): Mosquitto, 16 "
        "emulated boards on MQTT (one mcu through the bridge), 1 then 3 gateways at rising "
        "rates, then a gateway and a board killed and the broker restarted (docs/fleet.md)",
    )
    p.add_argument("--rates", default="10,25,50,100", help="--fleet: requests/s per step")
    add_json(p)
    p.set_defaults(func=run)


def run_fleet(args: argparse.Namespace) -> int:
    from experiments.fleet_demo import fleet_table, run_fleet_demo
    from vp_edge.errors import DataError
    from vp_edge.gateway.loadtest import parse_rates

    run = args.out or Path("runs/demo")
    if not (run / "family.json").exists():
        raise DataError(
            f"--fleet needs a trained, converted run in {run}; make one with "
            "'vp-edge demo --quick --no-live' or pass --out RUN"
        )
    s = run_fleet_demo(run, run / "fleet", rates=parse_rates(args.rates), show=args.json != "-")
    emit(args, s, fleet_table(s))
    e, f = s["equal"], s["faults"]
    ok = (
        e["equal"]
        and f["lost"] == 0
        and all(r["lost"] == 0 for rows in s["scale"].values() for r in rows)
    )
    return 0 if ok else 4


def run(args: argparse.Namespace) -> int:
    from experiments.demo import BUDGETS, run_demo
    from vp_edge.report import evaluation_table

    if args.fleet:
        return run_fleet(args)
    name = "quick" if args.quick else "long" if args.long else "full"
    budget = BUDGETS[name]
    overrides = {
        k: v
        for k, v in {
            "epochs": args.epochs,
            "train_limit": args.train_limit,
            "test_limit": args.test_limit,
            "live_images": args.live_images,
            "augment": args.augment or None,
        }.items()
        if v is not None
    }
    budget = dataclasses.replace(budget, **overrides)
    out = args.out or Path({"quick": "runs/quick", "long": "runs/long"}.get(name, "runs/demo"))
    summary = run_demo(out, budget, live=not args.no_live, show=args.json != "-")
    emit(args, summary, demo_table(summary, evaluation_table(summary["evaluation"])))
    return 0


def demo_table(s: dict, evaluation: str) -> str:
    c = s["claims"]
    lines = [
        evaluation,
        "",
        f"checks (family {c.get('family')}, recipe {c.get('recipe', 'joint')}):",
    ]
    lines.append(
        f"  ensemble > best single variant: {c['ensemble_beats_best_single']} "
        f"({100 * c['ensemble_top1']:.2f}% vs {100 * c['best_single_top1']:.2f}%)"
    )
    if c["baseline_top1"] is not None:
        lines.append(
            f"  ensemble >= baseline:           {c['ensemble_at_least_baseline']} "
            f"({100 * c['ensemble_top1']:.2f}% vs {100 * c['baseline_top1']:.2f}%)"
        )
        lines.append(
            f"  smallest variant {c['smallest_variant']}: "
            f"{c['smallest_params_ratio']:.2f}x fewer params, "
            f"{c['smallest_macs_ratio']:.2f}x fewer MACs than the baseline"
        )
        if c.get("within_paper_bounds") is not None:
            from vp_edge.family import PAPER_MACS_RATIO, PAPER_PARAMS_RATIO

            lines.append(
                f"  every variant >= {PAPER_PARAMS_RATIO}x fewer params, "
                f">= {PAPER_MACS_RATIO}x fewer MACs: "
                f"{c['within_paper_bounds']} (at least {c['fewest_params_ratio']:.2f}x, "
                f"{c['fewest_macs_ratio']:.2f}x)"
            )
    if c["max_int8_drop_points"] is not None:
        lines.append(f"  largest float->int8 drop: {c['max_int8_drop_points']:+.2f} points")
    live = s.get("live")
    if live:
        try:
            from experiments.live import live_table

            lines += ["", live_table(live)]
        except ImportError:
            pass
    t = s["timings"]
    lines.append("")
    lines.append("time: " + ", ".join(f"{k[:-2]} {v:.0f}s" for k, v in t.items()))
    return "\n".join(lines)
