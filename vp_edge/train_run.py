"""One training run as ``vp-edge train`` starts it, callable from a script the same way.

The order is the point: every option is checked before minutes of data loading, the run folder
is made before the data are read, and a folder this call made is removed again when the run
failed before it held a checkpoint or weights (a typo leaves no empty run behind).
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vp_edge.checks import make_dir
from vp_edge.errors import UsageError
from vp_edge.family import Family
from vp_edge.train_config import TrainConfig


@dataclass(frozen=True)
class StrategyChoice:
    """Train another strategy's models instead of the VP family (``docs/strategies.md``);
    the counts are that strategy's options (None: its default)."""

    name: str | None = None
    cuts: int | None = None
    groups: int | None = None
    branches: int | None = None
    keep: float | None = None

    def options(self, family: Family) -> dict | None:
        """The strategy's options with defaults (None for the family); a bad, foreign or
        orphaned option is a UsageError."""
        counts = (self.groups, self.branches, self.keep, self.cuts)
        if self.name is None:
            if any(v is not None for v in counts):
                raise UsageError("--cuts, --groups, --branches and --keep need --strategy")
            return None
        from vp_edge.strategies.build import strategy_options

        return strategy_options(self.name, family, *counts)


def train_run(
    out: Path,
    family: Family,
    config: TrainConfig,
    data: dict,
    strategy: StrategyChoice = StrategyChoice(),
    verbose: int = 1,
) -> dict:
    """Train ``family`` (or ``strategy``'s models) into the run folder ``out`` on the data
    named by ``data`` (``load_dataset``'s source, seed, val_fraction); the run's state, with
    the split sizes. Progress and the split line go to standard error."""
    options = strategy.options(family)  # checked before minutes of data loading
    created = not out.exists()
    make_dir(out, "--out")
    try:
        state = _load_and_train(out, family, config, data, strategy.name, options, verbose)
    except BaseException:
        if created:
            _remove_unused_run(out)
        raise
    return state


def _load_and_train(
    out: Path,
    family: Family,
    config: TrainConfig,
    data: dict,
    strategy: str | None,
    options: dict | None,
    verbose: int,
) -> dict:
    from vp_edge.data import load_dataset
    from vp_edge.train import save_data_args, train

    splits = load_dataset(
        data["source"],
        seed=data["seed"],
        val_fraction=data["val_fraction"],
        input_shape=family.input_shape,
        class_names=family.class_names or None,
    )
    save_data_args(out, data)
    print(split_line(splits, config.train_limit), file=sys.stderr)
    if strategy is not None:
        from vp_edge.strategies.build import train_strategy

        state = train_strategy(strategy, family, splits, out, config, options or {}, verbose)
    else:
        state = train(family, splits, out, config, verbose=verbose)
    state["splits"] = split_sizes(splits, config.train_limit)
    return state


def _remove_unused_run(run: Path) -> None:
    """Remove a run folder that holds no checkpoint or weights yet (only bookkeeping)."""
    from converters.rundir import RunDir

    rd = RunDir(run)
    if not any(d.is_dir() and any(d.iterdir()) for d in (rd.checkpoints, rd.weights_dir)):
        shutil.rmtree(run, ignore_errors=True)


def split_sizes(splits: Any, train_limit: int | None = None) -> dict:
    """Images per split (train as used, after --train-limit) and the class order."""
    used = len(splits.train.subset(train_limit))
    return {
        "train": used,
        "train_available": len(splits.train),
        "val": len(splits.val),
        "test": len(splits.test),
        "class_names": list(splits.train.class_names),
    }


def split_line(splits: Any, train_limit: int | None = None) -> str:
    """One line for people: the split sizes and the class order fixed by this run."""
    s = split_sizes(splits, train_limit)
    limited = f" (of {s['train_available']:,})" if s["train"] != s["train_available"] else ""
    return (
        f"data {splits.source}: train {s['train']:,}{limited}, val {s['val']:,}, test "
        f"{s['test']:,} images; classes {', '.join(s['class_names'])}"
    )


def train_table(state: dict) -> str:
    """The run's state for people: warnings, the recipe, one line per trained model."""
    lines = [f"WARNING: {w}" for w in state.get("warnings", [])]
    lines.append(f"recipe: {state.get('recipe', 'joint')}")
    lines.append(f"{'model':10} {'epochs':>6} {'best':>5} {'val loss':>9} {'seconds':>8}")
    for name, st in state.get("models", {}).items():
        lines.append(
            f"{name:10} {st['epochs_done']:>6} {st['best_epoch'] + 1:>5} "
            f"{st['best_val_loss']:>9.4f} {st['seconds']:>8.1f}"
        )
    return "\n".join(lines)
