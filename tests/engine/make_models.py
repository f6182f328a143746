"""Build small seeded full-int8 .tflite test models (run in a subprocess: needs TensorFlow).

Kept apart from the tests because LiteRT aborts when used in the same process right after
a TensorFlow conversion. Usage: ``python make_models.py OUT_DIR NAME[,NAME...]``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def _data(shape: tuple[int, ...], classes: int, n: int, seed: int) -> tuple:
    """Learnable synthetic data: one random template per class plus noise, values in [0, 1)."""
    rng = np.random.default_rng(seed)
    templates = rng.uniform(0.0, 1.0, (classes, *shape)).astype("float32")
    y = rng.integers(0, classes, n)
    x = templates[y] * 0.7 + rng.uniform(0.0, 0.3, (n, *shape)).astype("float32")
    return np.clip(x, 0.0, 0.999).astype("float32"), y


def _bn(layers):
    return layers.BatchNormalization(momentum=0.9)


def convs(keras, rng: np.random.Generator):
    """Conv/depthwise with varied strides, paddings, dilations, activations, depth multipliers."""
    layers = keras.layers
    h = int(rng.choice([10, 12, 13]))
    inp = keras.Input((h, h, 3))
    acts = [None, "relu", "relu6"]

    def act(x, a):
        return x if a is None else layers.ReLU(6.0 if a == "relu6" else None)(x)

    x = layers.Conv2D(8, 3, strides=1, padding="same")(inp)
    x = act(_bn(layers)(x), acts[int(rng.integers(3))])
    x = layers.Conv2D(
        12, int(rng.choice([2, 3])), strides=2, padding=str(rng.choice(["same", "valid"]))
    )(x)
    x = act(_bn(layers)(x), acts[int(rng.integers(3))])
    x = layers.DepthwiseConv2D(3, strides=1, padding="same", depth_multiplier=2, dilation_rate=2)(x)
    x = act(_bn(layers)(x), "relu6")
    x = layers.DepthwiseConv2D(3, strides=2, padding=str(rng.choice(["same", "valid"])))(x)
    x = act(_bn(layers)(x), acts[int(rng.integers(3))])
    x = layers.Conv2D(16, 3, padding="same", dilation_rate=2, use_bias=False)(x)
    x = act(_bn(layers)(x), "relu")
    x = layers.Conv2D(10, 1)(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Softmax()(x)
    return keras.Model(inp, out), (h, h, 3)


def pools(keras, rng: np.random.Generator):
    """PAD, average and max pooling (SAME/VALID), keep-dims MEAN, RESHAPE, FC without softmax."""
    layers = keras.layers
    h = int(rng.choice([16, 17]))
    inp = keras.Input((h, h, 2))
    x = layers.Conv2D(6, 3, padding="valid", activation="relu")(inp)
    x = layers.ZeroPadding2D(((1, 2), (2, 1)))(x)
    x = layers.AveragePooling2D(2, strides=2, padding=str(rng.choice(["same", "valid"])))(x)
    x = layers.Conv2D(8, 3, padding="same")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = layers.AveragePooling2D(3, strides=1, padding="same")(x)
    x = layers.GlobalAveragePooling2D(keepdims=True)(x)
    x = layers.Reshape((8,))(x)
    out = layers.Dense(10)(x)
    return keras.Model(inp, out), (h, h, 2)


def residual(keras, rng: np.random.Generator):
    """Residual ADDs whose inputs are quantised differently, with and without fused ReLU."""
    layers = keras.layers
    inp = keras.Input((12, 12, 4))
    x = layers.Conv2D(8, 3, padding="same")(inp)
    x = _bn(layers)(x)
    y = layers.Conv2D(8, 1)(x)
    y = layers.Lambda(lambda t: t * 3.0)(y) if rng.integers(2) else _bn(layers)(y)
    x = layers.Add()([x, y])
    z = layers.DepthwiseConv2D(3, padding="same")(x)
    z = layers.ReLU()(layers.Add()([z, x]))
    z = layers.Flatten()(z)
    z = layers.Dense(16, activation="relu")(z)
    out = layers.Softmax()(layers.Dense(10)(z))
    return keras.Model(inp, out), (12, 12, 4)


def resize(keras, rng: np.random.Generator):
    """RESIZE_NEAREST_NEIGHBOR up and down (half-pixel centres), as the variants do."""
    layers = keras.layers
    inp = keras.Input((28, 28, 1))
    r = int(rng.choice([16, 20, 24, 32, 40]))
    x = layers.Resizing(r, r, interpolation="nearest")(inp)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Resizing(9, 7, interpolation="nearest")(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Softmax()(layers.Dense(10)(x))
    return keras.Model(inp, out), (28, 28, 1)


def bilinear(keras, rng: np.random.Generator):
    """RESIZE_BILINEAR (half-pixel centres) up and down."""
    layers = keras.layers
    inp = keras.Input((28, 28, 1))
    x = layers.Resizing(int(rng.choice([20, 36])), 24, interpolation="bilinear")(inp)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Softmax()(layers.Dense(10)(x))
    return keras.Model(inp, out), (28, 28, 1)


def cut(keras, rng: np.random.Generator):
    """An mp-style part: conv activations flattened (392 int8 values), the whole output a tensor
    part sends on (several TENSOR chunks at a small max frame)."""
    layers = keras.layers
    inp = keras.Input((28, 28, 1))
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    x = layers.Conv2D(8, 3, strides=2, padding="same")(x)
    return keras.Model(inp, layers.Flatten()(x)), (28, 28, 1)


def tiny(keras, rng: np.random.Generator):
    """The project's smallest MobileNetV2-style variant."""
    from vp_edge.family import PRESETS
    from vp_edge.models import variant_model

    fam = PRESETS["tiny"]
    return variant_model(fam, fam.variants[0]), tuple(fam.input_shape)


BUILDERS: dict[str, Callable] = {
    f.__name__: f for f in (convs, pools, residual, resize, bilinear, cut, tiny)
}


def build(name: str, seed: int) -> bytes:
    """Train a few steps on learnable data, export in inference mode and convert to full int8."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model, shape = BUILDERS[name](keras, rng)
    x, y = _data(shape, 10, 512, seed)
    n_out = model.output_shape[-1]
    from_logits = "softmax" not in model.layers[-1].name
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    model.fit(x, y % n_out, epochs=2, batch_size=32, verbose=0)
    with tempfile.TemporaryDirectory() as tmp:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(
            name="serve",
            fn=lambda t: model(t, training=False),
            input_signature=[tf.TensorSpec((1, *shape), tf.float32)],
        )
        archive.write_out(tmp, verbose=False)
        conv = tf.lite.TFLiteConverter.from_saved_model(tmp)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([x[i : i + 1]] for i in range(100))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        return conv.convert()


def main(argv: list[str]) -> int:
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for item in argv[2].split(","):
        name, _, seed = item.partition(":")
        (out / f"{name}_{seed or 0}.tflite").write_bytes(build(name, int(seed or 0)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
