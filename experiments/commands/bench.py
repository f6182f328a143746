"""``vp-edge bench``: measure a converted run against its baseline and write a report."""

from __future__ import annotations

import argparse
from pathlib import Path

from vp_edge.commands._common import NON_NEGATIVE, POSITIVE, K, add_json, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        aliases=["bench-run"],  # a whole run; `benchmark` (alias bench-model) times one model
        help="benchmark a converted run: cost, response time, bytes, failures, gateway cost",
        description="Measure a converted run: model cost (params, MACs, bytes, arena, "
        "accuracy), compute per inference on LiteRT reference kernels, tflite-micro and the C "
        "engine, Cortex-M4 instruction counts in QEMU, VP vs baseline response time (composed "
        "from measured compute and modelled links, and end to end through the gateway on "
        "emulated boards), bytes per inference of VP vs model and class parallelism, accuracy "
        "and availability under failures, and the gateway's own cost. Writes report.md, "
        "report.json and PNG plots; every number is tagged measured, modelled or paper.",
    )
    p.add_argument("--run", type=Path, required=True, help="a converted run directory")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="report folder (default RUN/bench, beside the run it measures; the "
        "project's committed figures are written with --out bench/results)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small budget for CI (about a minute on a converted run)",
    )
    p.add_argument(
        "--repeats",
        type=POSITIVE,
        default=None,
        help="timed runs per figure, median reported (default 5; --quick 3)",
    )
    p.add_argument("-k", "--k", type=K, default=2, help="pairs per RESULT (default 2)")
    p.add_argument("--seed", type=NON_NEGATIVE, default=0, help="seed of the fault injection")
    p.add_argument(
        "--test-limit",
        type=POSITIVE,
        default=None,
        help="test images (default: those the model cards were scored on)",
    )
    p.add_argument("--no-live", action="store_true", help="skip the emulated-board gateway part")
    p.add_argument("--no-qemu", action="store_true", help="skip the QEMU instruction counts")
    p.add_argument(
        "--no-paper-scale",
        action="store_true",
        help="skip building and measuring the 224x224 int8 graphs (needs TensorFlow)",
    )
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    _add_strategy_options(p.add_argument_group("strategies (instead of the VP report)"))
    add_json(p)
    p.set_defaults(func=run)


def _add_strategy_options(g: argparse._ArgumentGroup) -> None:
    """--strategies and its options: the other parallelisms side by side with VP."""
    g.add_argument(
        "--strategies",
        action="store_true",
        help="VP, MP, CP, LCP and DISCO side by side: trains the others at --run's "
        "budget (kept in RUN/strategies), then offline, composed and live figures "
        "into OUT/strategies.{md,json}",
    )
    g.add_argument(
        "--strategy-runs",
        type=Path,
        default=None,
        help="where the strategy runs are kept (default RUN/strategies)",
    )
    g.add_argument(
        "--live-images", type=POSITIVE, default=100, help="live requests per strategy (default 100)"
    )


def run(args: argparse.Namespace) -> int:
    from experiments.bench import BenchConfig, run_bench
    from experiments.bench.figures import value

    if args.out is None:  # never into the installed tree's committed bench/results
        args.out = args.run / "bench"
    if args.strategies:
        return run_strategies(args)

    cfg = BenchConfig(
        run=args.run,
        out=args.out,
        quick=args.quick,
        repeats=args.repeats,
        k=args.k,
        seed=args.seed,
        test_limit=args.test_limit,
        live=not args.no_live,
        qemu=not args.no_qemu,
        paper_scale=not args.no_paper_scale,
        plots=not args.no_plots,
        show=args.json != "-",
    )
    report = run_bench(cfg)
    lines = [f"bench of {args.run} ({report['config']['mode']}): report in {args.out}/report.md"]
    comp = report["response_time"]["composed"].get("ratio_range")
    if comp:
        lines.append(
            f"response time baseline/VP: {value(comp['low']):.2f}x - "
            f"{value(comp['high']):.2f}x (modelled; paper 2.5x - 13.2x)"
        )
    cr = report["response_time"]["composed"].get("compute_ratio_range")
    if cr:
        lines.append(
            f"compute alone baseline/slowest variant: {value(cr['low']):.2f}x - "
            f"{value(cr['high']):.2f}x (measured)"
        )
    ps = report.get("paper_scale", {})
    if "ratio_per_board" in ps:
        lines.append(
            f"at 224x224 (int8 graphs, untrained): compute baseline/variant "
            f"{value(ps['compute_ratio_slowest']):.2f}x - "
            f"{value(ps['compute_ratio_fastest']):.2f}x; MP cheapest cut / one RESULT "
            f"frame {value(ps['ratio_per_board']):.0f}x"
        )
    elif ps:
        lines.append(f"224x224 graphs not measured: {ps.get('skipped') or ps.get('error')}")
    lines += [f"  {k}: {'yes' if v else 'NO'}" for k, v in report["checks"].items()]
    if report["untagged"]:
        lines.append(f"  untagged numbers: {report['untagged'][:5]}")
    emit(args, report, "\n".join(lines))
    return 0


def run_strategies(args: argparse.Namespace) -> int:
    from experiments.bench.strategies import StudyConfig, run_study
    from experiments.bench.strategies_report import markdown

    cfg = StudyConfig(
        run=args.run,
        out=args.out,
        runs=args.strategy_runs,
        images=args.test_limit or 1000,
        live_images=args.live_images,
        seed=args.seed,
        live=not args.no_live,
        plots=not args.no_plots,
        show=args.json != "-",
    )
    report = run_study(cfg)
    emit(
        args,
        report,
        markdown(report).split("## DISCO")[0].rstrip()
        + f"\n\n(report in {args.out}/strategies.md)",
    )
    return 0
