"""``vp-edge train``: joint training of a family and its baseline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vp_edge.commands._common import (
    EPOCHS,
    POSITIVE,
    add_data,
    add_json,
    data_args,
    emit,
    float_range,
    make_dir,
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
    add_recipe(p)
    add_strategy(p)
    add_data(p)
    add_json(p)
    p.set_defaults(func=run)


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


def _train_strategy(args: argparse.Namespace, family, splits, config) -> dict:
    from vp_edge.strategies.build import strategy_options, train_strategy

    options = strategy_options(
        args.strategy, family, args.groups, args.branches, args.keep, args.cuts
    )
    verbose = 0 if args.json == "-" else 1
    return train_strategy(args.strategy, family, splits, args.out, config, options, verbose)


def recipe_config(args: argparse.Namespace) -> dict:
    """TrainConfig fields of the recipe options, checked."""
    from vp_edge.errors import TrainingError

    if args.teacher not in (None, "baseline") and not Path(args.teacher).is_dir():
        raise TrainingError(f"--teacher {args.teacher}: not 'baseline' nor a run directory")
    if not 0.0 <= args.kd_weight <= 1.0 or args.kd_temperature <= 0 or args.ncl_weight < 0:
        raise TrainingError(
            "--kd-weight must be in [0, 1], --kd-temperature > 0, --ncl-weight >= 0"
        )
    return {
        "teacher": str(args.teacher) if args.teacher else None,
        "kd_weight": args.kd_weight,
        "kd_temperature": args.kd_temperature,
        "kd_schedule": args.kd_schedule,
        "ncl_weight": args.ncl_weight,
        "member_draws": args.member_draws,
    }


def run(args: argparse.Namespace) -> int:
    from vp_edge.family import load_family

    family = load_family(args.family)
    if args.strategy is not None:  # options checked before minutes of data loading
        from vp_edge.strategies.build import strategy_options

        strategy_options(args.strategy, family, args.groups, args.branches, args.keep, args.cuts)
    elif any(v is not None for v in (args.groups, args.branches, args.keep, args.cuts)):
        from vp_edge.errors import UsageError

        raise UsageError("--cuts, --groups, --branches and --keep need --strategy")
    created = not args.out.exists()
    make_dir(args.out, "--out")  # before minutes of data loading
    try:
        state = _load_and_train(args, family)
    except BaseException:
        if created:
            _remove_unused_run(args.out)
        raise
    emit(args, state, _table(state))
    return 0


def _remove_unused_run(run: Path) -> None:
    """A run folder this command created and that holds no checkpoint or weights yet (only its
    bookkeeping files) is removed after a failure, so a typo leaves no empty run behind."""
    import shutil

    from converters.rundir import RunDir

    rd = RunDir(run)
    if not any(d.is_dir() and any(d.iterdir()) for d in (rd.checkpoints, rd.weights_dir)):
        shutil.rmtree(run, ignore_errors=True)


def _load_and_train(args: argparse.Namespace, family) -> dict:
    """Load the data named by the arguments and train into ``args.out``; the run's state."""
    from vp_edge.data import load_dataset
    from vp_edge.train import TrainConfig, save_data_args, train

    d = data_args(args)
    splits = load_dataset(
        d["source"],
        seed=d["seed"],
        val_fraction=d["val_fraction"],
        input_shape=family.input_shape,
        class_names=family.class_names or None,
    )
    config = TrainConfig(
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
        **recipe_config(args),
    )
    save_data_args(args.out, d)
    verbose = 0 if args.json == "-" else 1
    print(split_line(splits, args.train_limit), file=sys.stderr)
    if args.strategy is not None:
        state = _train_strategy(args, family, splits, config)
    else:
        state = train(family, splits, args.out, config, verbose=verbose)
    state["splits"] = split_sizes(splits, args.train_limit)
    return state


def split_sizes(splits, train_limit: int | None = None) -> dict:
    """Images per split (train as used, after --train-limit) and the class order."""
    used = len(splits.train.subset(train_limit))
    return {
        "train": used,
        "train_available": len(splits.train),
        "val": len(splits.val),
        "test": len(splits.test),
        "class_names": list(splits.train.class_names),
    }


def split_line(splits, train_limit: int | None = None) -> str:
    """One line for people: the split sizes and the class order fixed by this run."""
    s = split_sizes(splits, train_limit)
    limited = f" (of {s['train_available']:,})" if s["train"] != s["train_available"] else ""
    return (
        f"data {splits.source}: train {s['train']:,}{limited}, val {s['val']:,}, test "
        f"{s['test']:,} images; classes {', '.join(s['class_names'])}"
    )


def _table(state: dict) -> str:
    lines = [f"WARNING: {w}" for w in state.get("warnings", [])]
    lines.append(f"recipe: {state.get('recipe', 'joint')}")
    lines.append(f"{'model':10} {'epochs':>6} {'best':>5} {'val loss':>9} {'seconds':>8}")
    for name, st in state.get("models", {}).items():
        lines.append(
            f"{name:10} {st['epochs_done']:>6} {st['best_epoch'] + 1:>5} "
            f"{st['best_val_loss']:>9.4f} {st['seconds']:>8.1f}"
        )
    return "\n".join(lines)
