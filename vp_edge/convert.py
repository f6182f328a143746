"""Convert a training run to full-int8 .tflite per variant (and the baseline), with model cards.

For each model: export with training=False, calibrate on training images, check
the graph has only ops boards run, run it on LiteRT's reference kernels and on
tflite-micro, measure the tflite-micro arena, and write a card:

  models/<name>.tflite     the int8 model
  models/<name>.json       its card (params, MACs, bytes, arena, accuracies, I/O quantisation)
  outputs/<name>.npz       int8 outputs on the test set (reused by 'vp-edge evaluate')
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from converters.card import keras_macs, measure_arenas, model_card, write_card
from converters.rundir import RunDir
from converters.tflite import to_int8_tflite
from firmware_bridge.files import write_file
from vp_edge.data import Splits, load_dataset
from vp_edge.errors import ArtifactError
from vp_edge.evaluate import int8_outputs
from vp_edge.family import Family
from vp_edge.preprocess import quantize, to_float
from vp_edge.progress import Progress
from vp_edge.train import (
    BASELINE,
    JOINT,
    load_data_args,
    load_run_family,
    load_trained,
    run_class_names,
)
from vp_edge.workers import engine_for, run_models

LOG = logging.getLogger(__name__)
TFLM_CHECK_INPUTS = 200


def load_run_data(run: Path, family: Family) -> Splits:
    """The run's data with the run's class order (refused if the source no longer matches)."""
    d = load_data_args(run)
    return load_dataset(
        d["source"],
        seed=d["seed"],
        val_fraction=d["val_fraction"],
        input_shape=family.input_shape,
        class_names=run_class_names(run, family, numbered=False),
    )


def keras_models(run: Path, family: Family) -> dict[str, Any]:
    """name -> Keras model: each variant detached from the joint graph, and the baseline."""
    joint = load_trained(run, JOINT)
    out = {v.name: joint.get_layer(v.name) for v in family.variants}
    if (RunDir(run).weights(BASELINE)).exists():
        out[BASELINE] = load_trained(run, BASELINE).get_layer(BASELINE)
    return out


def calibration_set(splits: Splits, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(splits.train.x), size=min(n, len(splits.train.x)), replace=False)
    return to_float(splits.train.x[np.sort(idx)])


def convert_run(
    run: Path, calibration: int = 200, test_limit: int | None = None, show: bool = True
) -> dict[str, dict]:
    """Convert every model of ``run``; returns name -> model card."""
    family = load_run_family(run)
    splits = load_run_data(run, family)
    test = splits.test.subset(test_limit)
    models = keras_models(run, family)
    RunDir(run).models.mkdir(exist_ok=True)
    RunDir(run).outputs_dir.mkdir(exist_ok=True)
    rep = calibration_set(splits, calibration, seed=0)
    x_float = to_float(test.x)
    float_acc: dict[str, float] = {}
    paths: dict[str, Path] = {}
    with Progress(len(models), "convert to int8", enabled=show) as bar:
        for name, model in models.items():
            probs = model.predict(x_float, batch_size=256, verbose=0)
            float_acc[name] = float(np.mean(np.argmax(probs, axis=1) == test.y))
            tflite = to_int8_tflite(model, rep, name=name)
            paths[name] = RunDir(run).model(name)
            write_file(paths[name], tflite)
            bar.update()
    cards = _check_and_card(run, family, models, paths, test, float_acc, show)
    return cards


def _io_card(path: Path) -> dict:
    """The input quantisation ``int8_outputs`` needs, read from the graph (no card yet)."""
    from converters.tflite import read_graph

    g = read_graph(path.read_bytes())
    return {"input_scale": g.input_scale, "input_zero_point": g.input_zero_point}


def _check_and_card(
    run: Path,
    family: Family,
    models: dict[str, Any],
    paths: dict[str, Path],
    test: Any,
    float_acc: dict[str, float],
    show: bool,
) -> dict[str, dict]:
    io = {name: _io_card(p) for name, p in paths.items()}
    outs = int8_outputs(run, io, test, "", show)  # cached for 'vp-edge evaluate'
    n_check = min(TFLM_CHECK_INPUTS, len(test.x))
    jobs = [
        (n, p, quantize(test.x[:n_check], io[n]["input_scale"], io[n]["input_zero_point"]))
        for n, p in paths.items()
    ]
    tflm = run_models(jobs, "tflm", label="tflite-micro check", show=show)
    arenas = dict(zip(paths, measure_arenas(list(paths.values())), strict=True))  # one worker
    cards = {}
    for name, path in paths.items():
        tflite = path.read_bytes()
        diff = np.abs(outs[name][:n_check].astype(int) - tflm[name].astype(int))
        agree = float(np.mean(np.argmax(outs[name][:n_check], 1) == np.argmax(tflm[name], 1)))
        arena = arenas[name]
        extra = {
            "kind": "baseline" if name == BASELINE else "variant",
            "int8_engine": engine_for(name),
            "tflm_check": {
                "inputs": n_check,
                "max_abs_diff": int(diff.max(initial=0)),
                "differing_values": int((diff > 0).sum()),
                "top1_agreement": agree,
            },
            "test_images": len(test.x),
            "class_names": list(test.class_names),
        }
        if name != BASELINE:
            v = family.variant(name)
            extra.update(
                resolution=v.resolution,
                alpha=v.alpha,
                head=v.head,
                vote_weight=v.vote_weight(family.max_resolution),
            )
        int8_acc = float(np.mean(np.argmax(outs[name], axis=1) == test.y))
        card = model_card(
            name,
            tflite,
            models[name].count_params(),
            keras_macs(models[name]),
            arena,
            float_acc[name],
            int8_acc,
            extra,
        )
        write_card(card, RunDir(run).card(name))
        cards[name] = card
    if not cards:
        raise ArtifactError(f"{run}: nothing to convert")
    return cards
