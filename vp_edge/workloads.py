"""Reference workloads for the kernel benchmark, in MLPerf Tiny's shapes, plus a family's variants
converted untrained: cost and speed do not depend on the weights' values, so no training is
needed to measure instructions and milliseconds per inference.

- ``resnet8``: MLPerf Tiny image classification (CIFAR-10 size, 32x32x3; about 12.5 M MACs).
- ``ds_cnn``: MLPerf Tiny keyword spotting (49x10 MFCC; DS-CNN with 64 channels; about 2.7 M MACs).
- ``vww``: MLPerf Tiny visual wake words (MobileNetV1 width 0.25 at 96x96x3, 2 classes; about
  7.5 M MACs).

``python -m vp_edge.workloads OUT_DIR [FAMILY]`` writes ``<name>.tflite`` for each (needs
TensorFlow; run it in its own process, LiteRT must not share it right after a conversion).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

WORKLOADS = ("resnet8", "ds_cnn", "vww")


def resnet8() -> Any:
    """MLPerf Tiny ResNet-8: 3x3 conv 16, three residual stages (16, 32, 64), pool, dense 10."""
    import keras

    L = keras.layers
    inp = keras.Input((32, 32, 3), name="resnet8_input")
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(16, 3, padding="same")(inp)))
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        y = L.ReLU()(L.BatchNormalization()(L.Conv2D(filters, 3, stride, padding="same")(x)))
        y = L.BatchNormalization()(L.Conv2D(filters, 3, padding="same")(y))
        if stride != 1:
            x = L.Conv2D(filters, 1, stride)(x)
        x = L.ReLU()(L.Add()([x, y]))
    x = L.AveragePooling2D(pool_size=x.shape[1:3])(x)
    x = L.Dense(10)(L.Flatten()(x))
    return keras.Model(inp, L.Softmax()(x), name="resnet8")


def ds_cnn() -> Any:
    """MLPerf Tiny DS-CNN (KWS): 10x4 conv 64 stride 2, four depthwise-separable blocks, pool,
    dense 12."""
    import keras

    L = keras.layers
    inp = keras.Input((49, 10, 1), name="ds_cnn_input")
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(64, (10, 4), 2, padding="same")(inp)))
    for _ in range(4):
        x = L.ReLU()(L.BatchNormalization()(L.DepthwiseConv2D(3, padding="same")(x)))
        x = L.ReLU()(L.BatchNormalization()(L.Conv2D(64, 1)(x)))
    x = L.AveragePooling2D(pool_size=x.shape[1:3])(x)
    x = L.Dense(12)(L.Flatten()(x))
    return keras.Model(inp, L.Softmax()(x), name="ds_cnn")


def vww() -> Any:
    """MLPerf Tiny VWW: MobileNetV1 with width 0.25 at 96x96x3 (3x3 conv 8 stride 2, thirteen
    depthwise-separable blocks up to 256 channels), pool, dense 2."""
    import keras

    L = keras.layers

    def bn_relu(x: Any) -> Any:
        return L.ReLU()(L.BatchNormalization()(x))

    inp = keras.Input((96, 96, 3), name="vww_input")
    x = bn_relu(L.Conv2D(8, 3, 2, padding="same", use_bias=False)(inp))
    blocks = (
        (16, 1),
        (32, 2),
        (32, 1),
        (64, 2),
        (64, 1),
        (128, 2),
        *[(128, 1)] * 5,
        (256, 2),
        (256, 1),
    )
    for filters, stride in blocks:
        x = bn_relu(L.DepthwiseConv2D(3, stride, padding="same", use_bias=False)(x))
        x = bn_relu(L.Conv2D(filters, 1, use_bias=False)(x))
    x = L.AveragePooling2D(pool_size=x.shape[1:3])(x)
    x = L.Dense(2)(L.Flatten()(x))
    return keras.Model(inp, L.Softmax()(x), name="vww")


def _settle_batchnorm(keras: Any, model: Any, x: np.ndarray) -> None:
    """Set every BatchNormalization's moving statistics to those of ``x`` (one forward pass in
    training mode with momentum 0), so untrained activations keep sane ranges through depth
    (LiteRT's reference kernels refuse the scales a freshly initialised deep net produces)."""
    bns = [ly for ly in model._flatten_layers() if isinstance(ly, keras.layers.BatchNormalization)]
    for ly in bns:
        ly.momentum = 0.0
    model(x, training=True)


def build_all(out: Path, family: str = "fashion") -> dict[str, int]:
    """Convert the family's variants, its baseline and the three workloads (untrained, calibrated
    on uniform noise) to full-int8 ``.tflite`` files in ``out``; returns name -> MACs."""
    import keras

    from converters.card import graph_macs
    from converters.tflite import read_graph, to_int8_tflite
    from vp_edge.family import load_family
    from vp_edge.models import baseline_model, variant_model
    from vp_edge.train import BASELINE

    keras.utils.set_random_seed(0)
    fam = load_family(family)
    models = {v.name: variant_model(fam, v) for v in fam.variants}
    models[BASELINE] = baseline_model(fam)
    models.update(resnet8=resnet8(), ds_cnn=ds_cnn(), vww=vww())
    out.mkdir(parents=True, exist_ok=True)
    macs = {}
    for name, model in models.items():
        rng = np.random.default_rng(0)
        rep = rng.uniform(0, 1, (32, *model.input_shape[1:])).astype("float32")
        _settle_batchnorm(keras, model, rep)
        tfl = to_int8_tflite(model, rep, name)
        (out / f"{name}.tflite").write_bytes(tfl)
        macs[name] = graph_macs(read_graph(tfl))
    return macs


def main(argv: list[str] | None = None) -> int:
    """``OUT_DIR [FAMILY]``: write the workloads, print name -> MACs as one JSON line."""
    import argparse
    import json

    ap = argparse.ArgumentParser(prog="python -m vp_edge.workloads", description=__doc__)
    ap.add_argument("out", type=Path, help="folder for the .tflite files")
    ap.add_argument("family", nargs="?", default="fashion", help="a family name or file")
    args = ap.parse_args(argv)
    print(json.dumps(build_all(args.out, args.family)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
