"""The training budget and recipe (``TrainConfig``), and the one builder of it.

The CLI (``vp-edge train``) and the demo both build their ``TrainConfig`` through
``train_config``: a preset (the demo's budget, any object or mapping with some of the fields)
plus overrides, with the recipe options checked the same way for both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from vp_edge.errors import TrainingError


@dataclass
class TrainConfig:
    """The budget; the baseline gets exactly the same one."""

    epochs: int = 4
    batch_size: int = 64
    learning_rate: float = 2e-3
    patience: int = 3
    seed: int = 0
    ensemble_weight: float = 1.0
    train_limit: int | None = None
    #: validation images checked after each epoch (early stopping, best weights)
    val_limit: int | None = 2000
    baseline: bool = True
    #: XLA: faster steps, but compiling a whole family takes minutes on 2 cores
    jit: bool = False
    #: step by step without a traced graph: faster when a run is a few hundred images (tracing
    #: a family costs more than it saves), slower beyond
    eager: bool = False
    #: random horizontal flips and small shifts while training (each variant its own draw)
    augment: bool = False
    #: distillation (vp_edge.recipes): None, "baseline" (this run's, trained first) or a run path
    teacher: str | None = None
    kd_weight: float = 0.5
    kd_temperature: float = 2.0
    kd_schedule: str = "constant"
    #: diversity: negative-correlation weight, and a bootstrap draw of the images per member
    ncl_weight: float = 0.0
    member_draws: bool = False

    def uses_recipe(self) -> bool:
        """Whether the family trains in the recipe graph (vp_edge.recipes), not the plain one."""
        return self.teacher is not None or self.ncl_weight > 0 or self.member_draws


#: settings that shape the trained weights; a resumed run must keep them (the checkpoint
#: restores the optimiser and its learning-rate schedule, so a new value would not apply)
FIXED_SETTINGS = (
    "epochs",
    "batch_size",
    "learning_rate",
    "seed",
    "ensemble_weight",
    "train_limit",
    "augment",
    "teacher",
    "kd_weight",
    "kd_temperature",
    "kd_schedule",
    "ncl_weight",
    "member_draws",
)

#: the fields a ``TrainConfig`` has (a preset may carry more: the demo's budget names its data)
CONFIG_FIELDS = tuple(f.name for f in fields(TrainConfig))


def check_recipe(config: TrainConfig) -> None:
    """Refuse a recipe that cannot train, before minutes of data loading (the messages name
    the CLI's options, which set these fields one to one)."""
    if config.teacher not in (None, "baseline") and not Path(config.teacher).is_dir():
        raise TrainingError(f"--teacher {config.teacher}: not 'baseline' nor a run directory")
    if not 0.0 <= config.kd_weight <= 1.0 or config.kd_temperature <= 0 or config.ncl_weight < 0:
        raise TrainingError(
            "--kd-weight must be in [0, 1], --kd-temperature > 0, --ncl-weight >= 0"
        )


def train_config(preset: Mapping[str, Any] | object | None = None, **overrides: Any) -> TrainConfig:
    """A checked ``TrainConfig``: the defaults, then the fields ``preset`` has (a mapping or an
    object such as the demo's budget; its other fields are not training's), then
    ``overrides`` (each must be a field: a misspelt one is an error, not ignored)."""
    unknown = sorted(set(overrides) - set(CONFIG_FIELDS))
    if unknown:
        raise TrainingError(
            f"not training settings: {', '.join(unknown)}; known: {', '.join(CONFIG_FIELDS)}"
        )
    if preset is None:
        values: dict[str, Any] = {}
    elif isinstance(preset, Mapping):
        values = {k: v for k, v in preset.items() if k in CONFIG_FIELDS}
    else:
        values = {k: getattr(preset, k) for k in CONFIG_FIELDS if hasattr(preset, k)}
    teacher = overrides.get("teacher", values.get("teacher"))
    overrides["teacher"] = str(teacher) if teacher else None  # a path object or "" as given
    config = TrainConfig(**{**values, **overrides})
    check_recipe(config)
    return config
