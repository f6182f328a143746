"""``vp-edge train``: joint training of a family and its baseline."""

from __future__ import annotations

import argparse

from vp_edge.commands._common import (
    EPOCHS,
    POSITIVE,
    add_data,
    add_json,
    data_args,
    emit,
    float_range,
    nonempty_path,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a variant family jointly (and the MobileNetV2 baseline)",
        description="Train all variants of a family in one graph with one optimiser "
        "(loss = sum of per-variant cross-entropies, optionally + an ensemble term), then "
        "the alpha=1.0 MobileNetV2 baseline at the largest variant resolution with the same "
        "budget. Checkpoints every epoch; rerunning the same command resumes. Early stopping "
        "on validation loss keeps the best weights.",
    )
    from vp_edge.family import PRESETS

    p.add_argument(
        "--family", default="fashion", help=f"preset ({', '.join(PRESETS)}) or .json/.toml file"
    )
    p.add_argument(
        "--out",
        type=nonempty_path,
        required=True,
        help="run directory (created; resumed if present)",
    )
    add_budget(p)
    add_recipe(p)
    add_strategy(p)
    add_data(p)
    add_json(p)
    p.set_defaults(func=run)


def add_budget(p: argparse.ArgumentParser) -> None:
    """The training budget and how it is run (vp_edge.train_config.TrainConfig)."""
    p.add_argument("--epochs", type=EPOCHS, default=4, help="training epochs")
    p.add_argument("--batch-size", type=POSITIVE, default=64, help="images per training step")
    p.add_argument(
        "--lr", type=float_range(0, 10, low_open=True), default=2e-3, help="Adam learning rate"
    )
    p.add_argument("--patience", type=POSITIVE, default=3, help="early-stopping patience (epochs)")
    p.add_argument(
        "--ensemble-weight",
        type=float_range(0, 100),
        default=1.0,
        help="weight of the ensemble cross-entropy term (0 = off; default 1.0, as the "
        "README's results)",
    )
    p.add_argument(
        "--train-limit",
        type=POSITIVE,
        default=None,
        help="use only the first N training images (small budgets)",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the baseline")
    p.add_argument(
        "--jit",
        action="store_true",
        help="compile with XLA: faster epochs, minutes of compilation first",
    )
    p.add_argument(
        "--eager",
        action="store_true",
        help="run step by step without tracing a graph: faster for a few hundred "
        "images (tracing costs more than it saves), slower for more",
    )
    p.add_argument(
        "--augment",
        action="store_true",
        help="random horizontal flips and shifts of up to 2 px while training (baseline too)",
    )


def add_recipe(p: argparse.ArgumentParser) -> None:
    """Distillation and diversity options (vp_edge.recipes)."""
    g = p.add_argument_group("recipe: distillation and diversity")
    g.add_argument(
        "--teacher",
        default=None,
        help="distil every variant from a baseline: 'baseline' (this run's, trained first "
        "with the same budget) or a run directory whose baseline teaches (and becomes this "
        "run's baseline)",
    )
    g.add_argument(
        "--kd-weight",
        type=float_range(0, 1),
        default=0.5,
        help="lambda of the distillation term (0.5)",
    )
    g.add_argument(
        "--kd-temperature",
        type=float_range(0, 100, low_open=True),
        default=2.0,
        help="temperature T (2.0)",
    )
    g.add_argument(
        "--kd-schedule",
        choices=("constant", "ramp"),
        default="constant",
        help="lambda every epoch, or ramped from 0 at the first epoch to lambda at the last",
    )
    g.add_argument(
        "--ncl-weight",
        type=float_range(0, 100),
        default=0.0,
        help="negative-correlation weight: reward members for differing from their mean (0 = off)",
    )
    g.add_argument(
        "--member-draws",
        action="store_true",
        help="each variant weighs the images by its own bootstrap draw (seeded)",
    )


def add_strategy(p: argparse.ArgumentParser) -> None:
    """Other ways to spread an inference over boards (vp_edge.strategies, docs/strategies.md)."""
    g = p.add_argument_group("strategy (default: the VP family)")
    g.add_argument(
        "--strategy",
        choices=("mp", "cp", "lcp", "disco"),
        default=None,
        help="train another strategy's models on the same data and budget: mp (the "
        "baseline, cut into parts at convert), cp (class groups), lcp (narrow "
        "branches), disco (within-layer split, sparse exchanges)",
    )
    g.add_argument(
        "--cuts",
        type=POSITIVE,
        default=None,
        help="mp: cuts in the baseline, 1-3 (default 1: two parts)",
    )
    g.add_argument(
        "--groups",
        type=POSITIVE,
        default=None,
        help="cp: class groups (default: the family's number of variants)",
    )
    g.add_argument("--branches", type=POSITIVE, default=None, help="lcp: branches (default 4)")
    g.add_argument(
        "--keep",
        type=float_range(0, 1, low_open=True),
        default=None,
        help="disco: fraction of cross-node channels kept (default 0.25; 1.0 = "
        "plain within-layer splitting)",
    )


def run(args: argparse.Namespace) -> int:
    from vp_edge.family import load_family
    from vp_edge.train_config import train_config
    from vp_edge.train_run import StrategyChoice, train_run, train_table

    family = load_family(args.family)
    config = train_config(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        patience=args.patience,
        seed=args.seed,
        ensemble_weight=args.ensemble_weight,
        train_limit=args.train_limit,
        baseline=not args.no_baseline,
        jit=args.jit,
        eager=args.eager,
        augment=args.augment,
        teacher=args.teacher,
        kd_weight=args.kd_weight,
        kd_temperature=args.kd_temperature,
        kd_schedule=args.kd_schedule,
        ncl_weight=args.ncl_weight,
        member_draws=args.member_draws,
    )
    strategy = StrategyChoice(args.strategy, args.cuts, args.groups, args.branches, args.keep)
    verbose = 0 if args.json == "-" else 1
    state = train_run(args.out, family, config, data_args(args), strategy, verbose)
    emit(args, state, train_table(state))
    return 0
