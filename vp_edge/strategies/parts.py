"""Training and conversion steps every strategy shares.

Training: ``fit`` trains one Keras model on the run's budget (``TrainConfig``: epochs,
batch, learning rate with the same cosine decay, train subset, seed), keeps the last
weights in ``weights/NAME.weights.h5`` and records the history in ``train.json`` under
``models``. Rerunning trains again from scratch (no resume).

Conversion: ``convert_part`` writes ``models/NAME.tflite`` (full int8, calibrated on the
float inputs given) and its card (``model_card``: params, MACs, arena), and returns the
I/O quantisation the plan needs.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from converters.card import keras_macs, measure_arena, model_card, write_card
from converters.rundir import RunDir
from converters.tflite import read_graph, to_int8_tflite
from vp_edge.data import Splits
from vp_edge.preprocess import to_float
from vp_edge.progress import keras_progress
from vp_edge.train import TrainConfig


def keras() -> Any:
    from vp_edge.models import _keras

    return _keras()


def read_train(run: Path) -> dict:
    path = RunDir(run).train
    return json.loads(path.read_text()) if path.exists() else {}


def save_train(run: Path, config: TrainConfig, strategy: str, options: dict, models: dict) -> None:
    """``train.json`` of a strategy run: the budget, the strategy and its options, models."""
    doc = {
        "config": asdict(config),
        "strategy": {"name": strategy, "options": options},
        "recipe": f"strategy {strategy}",
        "models": models,
    }
    RunDir(run).train.write_text(json.dumps(doc, indent=2) + "\n")


def compile_model(model: Any, config: TrainConfig, steps: int, loss: Any = None) -> None:
    """Adam with cosine decay over the budget, as the family and baseline train."""
    k = keras()
    lr = k.optimizers.schedules.CosineDecay(config.learning_rate, max(1, steps))
    model.compile(
        optimizer=k.optimizers.Adam(lr),
        loss=loss or "sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=config.jit,
        run_eagerly=config.eager,
    )


def fit(
    model: Any,
    name: str,
    splits: Splits,
    config: TrainConfig,
    run: Path,
    labels: Any = None,
    verbose: int = 1,
    epochs: int | None = None,
) -> dict:
    """Compile and train ``model`` on the budget; save its weights.

    ``labels(y) -> targets`` maps class labels to the model's targets (default: y).
    """
    epochs = epochs or config.epochs
    train = splits.train.subset(config.train_limit)
    val = splits.val.subset(config.val_limit)
    relabel = labels or (lambda y: y)
    steps = -(-len(train.y) // config.batch_size)
    compile_model(model, config, steps * epochs)
    callbacks = [keras_progress(name, epochs, 0, steps)] if verbose else []
    t0 = time.monotonic()
    hist = model.fit(
        to_float(train.x),
        relabel(train.y),
        validation_data=(to_float(val.x), relabel(val.y)),
        epochs=epochs,
        batch_size=config.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    )
    RunDir(run).weights_dir.mkdir(parents=True, exist_ok=True)
    model.save_weights(RunDir(run).weights(name))
    history = [{key: float(v[i]) for key, v in hist.history.items()} for i in range(epochs)]
    return {
        "epochs_done": epochs,
        "best_epoch": epochs - 1,  # the last weights are kept
        "best_val_loss": history[-1].get("val_loss", float("nan")),
        "history": history,
        "seconds": time.monotonic() - t0,
    }


def io_of(tflite: bytes) -> dict:
    """{"input": {shape, scale, zero_point}, "output": {...}} of an int8 graph (no batch axis)."""
    g = read_graph(tflite)
    return {
        "input": {
            "shape": list(g.input_shape[1:]),
            "scale": g.input_scale,
            "zero_point": g.input_zero_point,
        },
        "output": {
            "shape": list(g.output_shape[1:]),
            "scale": g.output_scale,
            "zero_point": g.output_zero_point,
        },
    }


def convert_model(model: Any, calibration: np.ndarray, name: str) -> bytes:
    """Full-int8 .tflite bytes of a Keras model, calibrated on float inputs."""
    return to_int8_tflite(model, np.asarray(calibration, np.float32), name=name)


def write_part(
    run: Path,
    name: str,
    model: Any,
    tflite: bytes,
    extra: dict,
    measure: bool = True,
    suffix: str = ".tflite",
) -> dict:
    """Write the artefact and its card; returns the card. ``measure=False`` skips the arena
    (recorded as 0; tests only)."""
    RunDir(run).models.mkdir(parents=True, exist_ok=True)
    path = RunDir(run).model(name)
    path.write_bytes(tflite)
    arena = measure_arena(path) if measure else 0
    card = model_card(
        name, tflite, model.count_params(), keras_macs(model), arena, None, None, extra
    )
    write_card(card, RunDir(run).card(name))
    return card


def float_features(model: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x, batch_size=256, verbose=0), np.float32)


def copy_weights(dst: Any, src: Any) -> None:
    """Copy weights layer by layer by name (layers of ``dst`` without weights are skipped)."""
    for layer in dst.layers:
        if layer.weights:
            layer.set_weights(src.get_layer(layer.name).get_weights())
