"""The one TrainConfig builder (CLI and demo) and the training run's checks, at library level."""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

import pytest

from experiments.demo import BUDGETS, demo_train_config
from vp_edge.errors import TrainingError, UsageError
from vp_edge.family import load_family
from vp_edge.train_config import CONFIG_FIELDS, TrainConfig, train_config
from vp_edge.train_run import StrategyChoice, train_run, train_table


@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_demo_budget_gives_the_config_it_gave_before(name: str) -> None:
    """The demo built its TrainConfig field by field before the builder: the same, each field."""
    b = BUDGETS[name]
    before = TrainConfig(
        epochs=b.epochs,
        train_limit=b.train_limit,
        batch_size=b.batch_size,
        patience=b.epochs,
        ensemble_weight=b.ensemble_weight,
        augment=b.augment,
        teacher=b.teacher,
        kd_weight=b.kd_weight,
        kd_temperature=b.kd_temperature,
        kd_schedule=b.kd_schedule,
        ncl_weight=b.ncl_weight,
    )
    after = demo_train_config(b)
    for f in fields(TrainConfig):
        assert getattr(after, f.name) == getattr(before, f.name), f.name
    assert asdict(after) == asdict(before)


def test_preset_fields_then_overrides() -> None:
    cfg = train_config({"epochs": 3, "live_images": 9, "lr": 1.0}, epochs=5, seed=7)
    assert (cfg.epochs, cfg.seed, cfg.learning_rate) == (5, 7, TrainConfig().learning_rate)
    assert train_config() == TrainConfig()
    assert set(CONFIG_FIELDS) == set(asdict(TrainConfig()))


def test_misspelt_override_is_refused() -> None:
    with pytest.raises(TrainingError, match="not training settings: learnig_rate"):
        train_config(learnig_rate=1e-3)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"teacher": "no/such/run"}, "--teacher no/such/run: not 'baseline' nor a run directory"),
        ({"kd_weight": 1.5}, "--kd-weight must be in"),
        ({"kd_temperature": 0.0}, "--kd-temperature > 0"),
        ({"ncl_weight": -1.0}, "--ncl-weight >= 0"),
    ],
)
def test_bad_recipe_is_refused(kw: dict, message: str) -> None:
    with pytest.raises(TrainingError, match=message.replace("[", r"\[")):
        train_config(**kw)


def test_teacher_as_given(tmp_path: Path) -> None:
    assert train_config(teacher="").teacher is None  # an empty --teacher is no teacher
    assert train_config(teacher="baseline").teacher == "baseline"
    assert train_config(teacher=tmp_path).teacher == str(tmp_path)


def test_strategy_counts_need_a_strategy(tmp_path: Path) -> None:
    family = load_family("fashion")
    assert StrategyChoice().options(family) is None
    with pytest.raises(UsageError, match="need --strategy"):
        StrategyChoice(groups=2).options(family)
    out = tmp_path / "run"
    with pytest.raises(UsageError, match="need --strategy"):
        train_run(out, family, TrainConfig(), _data(tmp_path), StrategyChoice(cuts=1))
    assert not out.exists()  # refused before the run folder is made
    with pytest.raises(UsageError, match="--cuts 5"):
        StrategyChoice("mp", cuts=5).options(family)


def test_failed_run_leaves_no_empty_folder(tmp_path: Path) -> None:
    family = load_family("fashion")
    out = tmp_path / "run"
    with pytest.raises(Exception, match="no-such-data"):
        train_run(out, family, TrainConfig(), _data(tmp_path))
    assert not out.exists()
    out.mkdir()  # a folder the user made stays
    with pytest.raises(Exception, match="no-such-data"):
        train_run(out, family, TrainConfig(), _data(tmp_path))
    assert out.is_dir()


def test_train_table() -> None:
    state = {
        "warnings": ["chance"],
        "recipe": "joint",
        "models": {
            "joint": {"epochs_done": 2, "best_epoch": 1, "best_val_loss": 0.5, "seconds": 3.0}
        },
    }
    lines = train_table(state).splitlines()
    assert lines[:2] == ["WARNING: chance", "recipe: joint"]
    assert lines[-1].split() == ["joint", "2", "2", "0.5000", "3.0"]


def _data(tmp_path: Path) -> dict:
    return {"source": str(tmp_path / "no-such-data"), "seed": 0, "val_fraction": 0.1}
