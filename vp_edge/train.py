"""Joint training of a variant family (one graph, one optimiser step) and its baseline.

loss = sum_i CE(y, p_i) [+ ensemble_weight * CE(y, mean_i p_i)]

A run directory holds everything later steps need:
  family.json            the family trained
  data.json              the load_dataset arguments (source, absolute, seed, val_fraction)
                         and class_names: the class order fixed here, used by every consumer
  train.json             settings, per-epoch history, best epoch, status
  checkpoints/*.keras    last epoch (model + optimiser, for resume)
  weights/*.weights.h5   best weights on validation (what convert uses)
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from converters.rundir import RunDir
from firmware_bridge.files import write_file, writing
from vp_edge import bn_refresh, models, recipes, seed_states
from vp_edge.chance import chance_warnings
from vp_edge.data import Splits
from vp_edge.errors import TrainingError
from vp_edge.family import Family, save_family
from vp_edge.interrupts import deferred_interrupt
from vp_edge.preprocess import to_float
from vp_edge.progress import keras_progress
from vp_edge.run_records import load_data_args as load_data_args  # re-exported (users' path)
from vp_edge.run_records import (
    load_run_family,
    record_class_names,
    run_state,
)
from vp_edge.run_records import run_class_names as run_class_names  # re-exported
from vp_edge.run_records import save_data_args as save_data_args  # re-exported
from vp_edge.train_config import FIXED_SETTINGS, TrainConfig

LOG = logging.getLogger(__name__)
JOINT = "joint"
BASELINE = "baseline"


@dataclass
class ModelState:
    """Progress of one trained model, persisted after every epoch."""

    epochs_done: int = 0
    best_epoch: int = -1
    best_val_loss: float = float("inf")
    wait: int = 0
    stopped_early: bool = False
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def _keras() -> Any:
    return models._keras()


def _save_state(run: Path, config: TrainConfig, states: dict[str, ModelState], source: str) -> None:
    doc = {
        "config": asdict(config),
        "recipe": recipes.describe(config),
        "data": source,
        "models": {k: asdict(v) for k, v in states.items()},
    }
    tmp = run / "train.json.tmp"
    write_file(tmp, json.dumps(doc, indent=2))
    tmp.replace(RunDir(run).train)


class _Progress:
    """Keras callback: checkpoint every epoch, keep the best, stop early, persist state."""

    def __init__(
        self, run: Path, name: str, state: ModelState, config: TrainConfig, save, export=None
    ) -> None:
        keras = _keras()

        class _CB(keras.callbacks.Callback):
            def on_epoch_end(cb, epoch: int, logs: dict | None = None) -> None:
                self.epoch_end(cb.model, epoch, logs or {})

        self.callback = _CB()
        self.run, self.name, self.state, self.config, self.save = run, name, state, config, save
        self.export = export  # the plain model whose weights convert loads (default: the model)
        self.t0 = time.monotonic()

    def epoch_end(self, model: Any, epoch: int, logs: dict) -> None:
        with deferred_interrupt():  # weights, checkpoint and train.json of one epoch, or none
            self._persist(model, epoch, logs)

    def _persist(self, model: Any, epoch: int, logs: dict) -> None:
        st = self.state
        st.history.append({k: float(v) for k, v in logs.items()})
        st.epochs_done = epoch + 1
        st.seconds += time.monotonic() - self.t0
        self.t0 = time.monotonic()
        val = float(logs.get("val_loss", np.inf))
        if val < st.best_val_loss:
            st.best_val_loss, st.best_epoch, st.wait = val, epoch, 0
            weights = RunDir(self.run).weights(self.name)
            with writing(weights):
                (self.export or model).save_weights(weights)
        else:
            st.wait += 1
        with writing(RunDir(self.run).checkpoint(self.name)):
            model.save(RunDir(self.run).checkpoint(self.name))
            seed_states.save(model, RunDir(self.run).checkpoint(self.name))
        if st.wait >= self.config.patience:
            st.stopped_early = True
            model.stop_training = True
        self.save()


def _compile(
    model: Any,
    outputs: list[str],
    config: TrainConfig,
    total_steps: int,
    losses: tuple[dict, dict] | None = None,
) -> None:
    """Adam with a cosine decay over the whole budget (the same for family and baseline)."""
    keras = _keras()
    lr = keras.optimizers.schedules.CosineDecay(config.learning_rate, max(1, total_steps))
    loss = {o: "sparse_categorical_crossentropy" for o in outputs}
    weights = {o: (config.ensemble_weight if o == "ensemble" else 1.0) for o in outputs}
    if losses is not None:
        loss, weights = losses
    metrics = {o: ["accuracy"] for o in outputs if recipes.has_accuracy(o)}
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=loss,
        loss_weights=weights,
        metrics=metrics,
        jit_compile=config.jit,
        run_eagerly=config.eager,
    )


def _build(family: Family, name: str, config: TrainConfig) -> tuple[Any, list[str]]:
    keras = _keras()
    if name == BASELINE:
        m = models.baseline_model(family)
        inp = keras.Input(shape=family.input_shape, name="input")
        x = models.augmentation(BASELINE)(inp) if config.augment else inp
        model = keras.Model(inp, {BASELINE: m(x)}, name="baseline_train")
        return model, [BASELINE]
    variants = {v.name: models.variant_model(family, v) for v in family.variants}
    ensemble = config.ensemble_weight > 0
    model = models.joint_model(family, variants, ensemble=ensemble, augment=config.augment)
    return model, list(variants) + (["ensemble"] if ensemble else [])


def _fit_one(
    name: str,
    family: Family,
    splits: Splits,
    config: TrainConfig,
    run: Path,
    states: dict[str, ModelState],
    verbose: int,
) -> None:
    keras = _keras()
    state = states.setdefault(name, ModelState())
    if state.stopped_early or state.epochs_done >= config.epochs:
        LOG.info("%s: already trained (%d epochs), skipping", name, state.epochs_done)
        return
    ckpt = RunDir(run).checkpoint(name)
    train = splits.train.subset(config.train_limit)
    steps = -(-len(train.y) // config.batch_size) * config.epochs
    recipe = name == JOINT and config.uses_recipe()
    export, extra = None, []
    if recipe:
        model, export, outputs = _recipe_model(family, config, run, steps)
        extra = [recipes.schedule_callback(config.kd_weight, config.kd_schedule, config.epochs)]
    else:
        model, outputs = _build(family, name, config)
        _compile(model, outputs, config, steps)
    if state.epochs_done and ckpt.exists():
        model = keras.saving.load_model(ckpt)  # weights, optimiser state and schedule position
        seed_states.restore(model, ckpt)  # and where Dropout's draws were
        if recipe:
            export = recipes.export_of(model, family, config.ensemble_weight > 0, config.augment)
        LOG.info("%s: resuming after epoch %d", name, state.epochs_done)
    val = splits.val.subset(config.val_limit)
    x, xv = to_float(train.x), to_float(val.x)
    if recipe:
        y = recipes.targets(outputs, train.y, config.seed if config.member_draws else None)
        yv = recipes.targets(outputs, val.y, None)
    else:
        y, yv = {o: train.y for o in outputs}, {o: val.y for o in outputs}
    progress = _Progress(
        run, name, state, config, lambda: _save_state(run, config, states, splits.source), export
    )
    # validation scores the model as it will be converted: BN statistics of the current weights
    callbacks = [
        bn_refresh.callback(bn_refresh.sample(x, config.seed), config.batch_size),
        progress.callback,
    ]
    if verbose:  # one bar and a short line per epoch, not Keras' own lines
        steps = -(-len(train.y) // config.batch_size)
        callbacks.append(keras_progress(name, config.epochs, state.epochs_done, steps))
    model.fit(
        x,
        y,
        validation_data=(xv, yv),
        epochs=config.epochs,
        initial_epoch=state.epochs_done,
        batch_size=config.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=extra + callbacks,
    )


def _recipe_model(
    family: Family, config: TrainConfig, run: Path, total_steps: int
) -> tuple[Any, Any, list[str]]:
    """The recipe graph (teacher frozen inside it), compiled; and the plain model to save."""
    teacher = None
    if config.teacher is not None:
        teacher = load_trained(teacher_run(run, config.teacher), BASELINE).get_layer(BASELINE)
    model, export, outputs = recipes.build(
        family, teacher, config.ensemble_weight > 0, config.augment, config.ncl_weight > 0
    )
    losses = recipes.losses(
        outputs,
        family.num_classes,
        len(family.variants),
        teacher is not None,
        config.kd_temperature,
        {"ensemble": config.ensemble_weight, "ncl": config.ncl_weight},
    )
    _compile(model, outputs, config, total_steps, losses)
    return model, export, outputs


def teacher_run(run: Path, spec: str) -> Path:
    """The run whose baseline teaches: this one ("baseline") or another run directory."""
    return run if spec == BASELINE else Path(spec)


def _check_teacher(run: Path, family: Family, config: TrainConfig) -> tuple[list[str], dict | None]:
    """Validate --teacher; the models to train in order, and the state of a copied baseline.

    With another run as teacher, that run's baseline becomes this run's (weights and state
    copied), so every run taught by it is compared against the very same baseline.
    """
    if config.teacher is None:
        return [JOINT] + ([BASELINE] if config.baseline else []), None
    if config.teacher == BASELINE:
        return [BASELINE, JOINT], None  # the teacher is trained first, with the same budget
    src = Path(config.teacher)
    weights = src / "weights" / f"{BASELINE}.weights.h5"
    if not weights.exists():
        raise TrainingError(
            f"teacher run {src} has no trained baseline ({weights} missing); train it first "
            "or use --teacher baseline"
        )
    recipes.write_teacher(run, src, weights)
    if not config.baseline:
        return [JOINT], None
    if recipes.baseline_signature(load_run_family(src)) != recipes.baseline_signature(family):
        raise TrainingError(
            f"the baseline of {src} is not this family's baseline (another resolution or "
            "input); use --teacher baseline or --no-baseline"
        )
    shutil.copyfile(weights, run / "weights" / weights.name)
    return [JOINT], run_state(src).get("models", {}).get(BASELINE, asdict(ModelState()))


def train(
    family: Family, splits: Splits, run: Path, config: TrainConfig | None = None, verbose: int = 1
) -> dict:
    """Train the family jointly (and the baseline) into ``run``; resumes an interrupted run.

    Returns the persisted state (``train.json``).
    """
    config = config or TrainConfig()
    if splits.num_classes != family.num_classes:
        raise TrainingError(
            f"family {family.name!r} has {family.num_classes} classes, the data has "
            f"{splits.num_classes}; edit num_classes in the family file"
        )
    if tuple(splits.train.x.shape[1:]) != tuple(family.input_shape):
        raise TrainingError(
            f"data images are {splits.train.x.shape[1:]}, family {family.name!r} expects "
            f"{family.input_shape}; load the data with input_shape={family.input_shape}"
        )
    run.mkdir(parents=True, exist_ok=True)
    RunDir(run).checkpoints.mkdir(exist_ok=True)
    RunDir(run).weights_dir.mkdir(exist_ok=True)
    previous = run_state(run)
    if RunDir(run).family.exists() and load_run_family(run) != family:
        raise TrainingError(f"{run} holds a different family; use another --out or remove it")
    _check_resume(run, previous.get("config"), config)
    record_class_names(run, splits.train.class_names)
    save_family(family, RunDir(run).family)
    states = {k: ModelState(**v) for k, v in previous.get("models", {}).items()}
    names, copied = _check_teacher(run, family, config)
    if copied is not None:
        states[BASELINE] = ModelState(**copied)
    for name in names:
        _keras().utils.set_random_seed(config.seed)  # each model's draws do not depend on order
        _fit_one(name, family, splits, config, run, states, verbose)
        _save_state(run, config, states, splits.source)
    state = run_state(run)
    state["warnings"] = chance_warnings(state, family.num_classes)
    if state["warnings"]:  # a model that answers one class must not go on to conversion
        raise TrainingError("; ".join(state["warnings"]) + f" (weights kept in {run})")
    return state


def _check_resume(run: Path, recorded: dict | None, config: TrainConfig) -> None:
    """Refuse to resume with settings that differ from the recorded ones (named, both values)."""
    if not recorded:
        return
    new = asdict(config)
    changed = [
        f"{k} {recorded[k]!r} -> {new[k]!r}"
        for k in FIXED_SETTINGS
        if k in recorded and recorded[k] != new[k]
    ]
    if changed:
        raise TrainingError(
            f"{run} was trained with other settings ({'; '.join(changed)}); resuming would not "
            "apply them. Rerun with the recorded settings to resume, or use another --out"
        )


def load_trained(run: Path, name: str = JOINT) -> Any:
    """The trained Keras model (best validation weights) of a run: joint or baseline."""
    family = load_run_family(run)
    weights = RunDir(run).weights(name)
    if not weights.exists():
        raise TrainingError(f"{run} has no trained weights for {name!r} ({weights} missing)")
    cfg = TrainConfig(**run_state(run).get("config", {}))
    model, _ = _build(family, name, cfg)
    model.load_weights(weights)
    return model
