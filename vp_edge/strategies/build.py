"""Train and convert a strategy run: ``train_strategy`` and ``convert_strategy``.

``vp-edge train --strategy S`` calls ``train_strategy``; ``vp-edge convert`` calls
``convert_strategy`` for a run whose train.json names a strategy (other runs: the VP
conversion, then its strategy.json).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from converters.rundir import RunDir
from vp_edge.data import Splits
from vp_edge.errors import TrainingError, UsageError
from vp_edge.family import Family, save_family
from vp_edge.strategies.base import NAMES, write_strategy
from vp_edge.strategies.parts import keras, read_train, save_train
from vp_edge.train import TrainConfig, load_run_family, record_class_names, run_class_names

#: the disco sparsity levels the study measures (any value in (0, 1] is accepted)
KEEP_LEVELS = (1.0, 0.5, 0.25, 0.1)
TRAINED = ("mp", "cp", "lcp", "disco")


def strategy_options(
    name: str,
    family: Family,
    groups: int | None = None,
    branches: int | None = None,
    keep: float | None = None,
    cuts: int | None = None,
) -> dict:
    """The options of strategy ``name`` with defaults; a bad or foreign one is a UsageError."""
    if name not in TRAINED:
        raise UsageError(
            f"--strategy {name!r}: trainable strategies are {', '.join(TRAINED)} "
            "(vp is plain 'vp-edge train' without --strategy)"
        )
    given = {"groups": groups, "branches": branches, "keep": keep, "cuts": cuts}
    owner = {"groups": "cp", "branches": "lcp", "keep": "disco", "cuts": "mp"}
    foreign = [f"--{k}" for k, v in given.items() if v is not None and owner[k] != name]
    if foreign:
        raise UsageError(f"{', '.join(foreign)}: not an option of --strategy {name}; drop it")
    C = family.num_classes
    if name == "mp":
        c = 1 if cuts is None else cuts
        if not 1 <= c <= 3:
            raise UsageError(f"--cuts {c}: give 1 to 3 cuts (2 to 4 parts)")
        return {"cuts": c}
    if name == "cp":
        g = len(family.variants) if groups is None else groups
        if not 2 <= g <= C:
            raise UsageError(f"--groups {g}: give 2 to {C} groups (the data have {C} classes)")
        return {"groups": g}
    if name == "lcp":
        b = 4 if branches is None else branches
        if not 2 <= b <= 16:
            raise UsageError(f"--branches {b}: give 2 to 16 branches")
        return {"branches": b, "features": 32}
    k = 0.25 if keep is None else keep
    if not 0.0 < k <= 1.0:
        raise UsageError(f"--keep {k}: give a fraction in (0, 1] (1.0 = every channel sent)")
    return {"keep": k, "lasso": 2e-3, "finetune_epochs": 1}


def module(name: str) -> Any:
    return importlib.import_module(f"vp_edge.strategies.{name}")


def train_strategy(
    name: str,
    family: Family,
    splits: Splits,
    run: Path,
    config: TrainConfig,
    options: dict,
    verbose: int = 1,
) -> dict:
    """Train strategy ``name``'s models into ``run``; returns train.json's content."""
    if splits.num_classes != family.num_classes:
        raise TrainingError(
            f"family {family.name!r} has {family.num_classes} classes, the "
            f"data {splits.num_classes}; edit num_classes in the family file"
        )
    old = read_train(run).get("strategy")
    if RunDir(run).train.exists() and (old or {}).get("name") != name:
        raise TrainingError(
            f"{run} holds another run ({(old or {}).get('name', 'vp')}); use another --out"
        )
    RunDir(run).make()
    record_class_names(run, splits.train.class_names)
    save_family(family, RunDir(run).family)
    keras().utils.set_random_seed(config.seed)
    models = module(name).train(family, splits, run, config, options, verbose)
    save_train(run, config, name, options, models)
    return read_train(run)


def run_strategy_name(run: Path) -> str:
    """The strategy a run was trained for ("vp" for a plain family run)."""
    return (read_train(run).get("strategy") or {}).get("name", "vp")


def convert_strategy(
    run: Path, calibration: int = 200, measure: bool = True, show: bool = True
) -> dict:
    """Convert every part of a strategy run and write run/strategy.json; returns it."""
    from vp_edge.convert import calibration_set, load_run_data
    from vp_edge.progress import Progress

    name = run_strategy_name(run)
    if name == "vp":
        from vp_edge.convert import convert_run
        from vp_edge.strategies.vp import describe

        convert_run(run, calibration, show=show)
        doc = describe(run)
        write_strategy(run, doc)
        return doc
    if name not in NAMES:
        raise TrainingError(f"{run}: unknown strategy {name!r} in train.json")
    options = read_train(run)["strategy"]["options"]
    family = load_run_family(run)
    splits = load_run_data(run, family)
    rep = calibration_set(splits, calibration, seed=0)
    mod = module(name)
    with Progress(mod.steps(options), f"convert {name} parts", enabled=show) as bar:
        doc = mod.convert(run, family, splits, options, rep, measure, bar)
    doc = {
        "strategy": name,
        "class_names": list(run_class_names(run, family)),
        "input_shape": list(family.input_shape),
        "options": options,
        **doc,
    }
    write_strategy(run, doc)
    return doc
