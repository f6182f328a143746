"""Conformance corpus: tiny seeded full-int8 models made with different converter settings.

Run in a subprocess (needs TensorFlow): ``python make_corpus.py OUT_DIR``. Every model is
calibrated, not trained (the engine's exactness does not depend on the weights' values), and
small enough that the whole corpus converts in well under a minute. Each entry is named
``<builder>-<setting>``; the settings cover per-channel and per-tensor weights (the converter's
per-channel switch, and per-tensor for Dense only), so every supported op meets every
quantisation variant LiteRT's reference kernels implement.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

#: converter settings: name -> attributes set on the TFLiteConverter
SETTINGS: dict[str, dict[str, bool]] = {
    "pc": {},
    "pt": {"_experimental_disable_per_channel": True},
    "ptdense": {"_experimental_disable_per_channel_quantization_for_dense_layers": True},
}


def dense_stack(keras, rng):
    """Keras Sequential Dense stack (FULLY_CONNECTED with fused RELU/RELU6/none, SOFTMAX)."""
    L = keras.layers
    return keras.Sequential(
        [
            keras.Input((int(rng.choice([20, 33])),)),
            L.Dense(24, activation="relu"),
            L.Dense(17, activation="relu6"),
            L.Dense(12),
            L.Dense(10, activation="softmax"),
        ]
    )


def dense_sigmoid(keras, rng):
    """FULLY_CONNECTED into LOGISTIC and a Dense over a flattened 4-D tensor."""
    L = keras.layers
    inp = keras.Input((4, 4, 3))
    x = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    x = L.Flatten()(x)
    x = L.Dense(16, activation="sigmoid")(x)
    return keras.Model(inp, L.Dense(6)(x))


def residual_cnn(keras, rng):
    """Residual CNN: strided conv, two residual ADDs (one through a 1x1 projection), MEAN."""
    L = keras.layers
    inp = keras.Input((12, 12, 3))
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(8, 3, padding="same")(inp)))
    y = L.ReLU()(L.BatchNormalization()(L.Conv2D(8, 3, padding="same")(x)))
    y = L.BatchNormalization()(L.Conv2D(8, 3, padding="same")(y))
    x = L.ReLU()(L.Add()([x, y]))
    y = L.ReLU()(L.Conv2D(12, 3, strides=2, padding="same")(x))
    y = L.Conv2D(12, 3, padding="same")(y)
    s = L.Conv2D(12, 1, strides=2)(x)
    x = L.ReLU()(L.Add()([s, y]))
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(10, activation="softmax")(x))


def kws_dscnn(keras, rng):
    """Depthwise-separable KWS-style net (DS-CNN shape, tiny): valid conv, DW 3x3 + PW 1x1."""
    L = keras.layers
    inp = keras.Input((13, 7, 1))
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(12, (5, 3), strides=2, padding="same")(inp)))
    for _ in range(2):
        x = L.ReLU()(L.BatchNormalization()(L.DepthwiseConv2D(3, padding="same")(x)))
        x = L.ReLU()(L.BatchNormalization()(L.Conv2D(12, 1)(x)))
    x = L.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]))(x)
    x = L.Flatten()(x)
    return keras.Model(inp, L.Dense(8, activation="softmax")(x))


def mobile_block(keras, rng):
    """MobileNetV3-style block: HARD_SWISH, depthwise stride 2 with multiplier, squeeze-excite
    (MEAN, LOGISTIC, MUL with broadcast), CONCATENATION, MAX_POOL."""
    L = keras.layers
    inp = keras.Input((10, 10, 4))
    x = L.Conv2D(8, 3, padding="same")(inp)
    x = L.Activation("hard_swish")(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)(x)
    x = L.ReLU(6.0)(x)
    se = L.GlobalAveragePooling2D(keepdims=True)(x)
    se = L.Conv2D(4, 1, activation="relu")(se)
    se = L.Conv2D(16, 1, activation="sigmoid")(se)
    x = L.Multiply()([x, se])
    a = L.Conv2D(6, 1)(x)
    b = L.MaxPooling2D(2, strides=1, padding="same")(L.Conv2D(5, 3, padding="same")(x))
    x = L.Concatenate()([a, b])
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(5)(x))


def misc_ops(keras, rng):
    """PAD, AVERAGE_POOL, nearest resize, element-wise MUL of two tensors, CONCATENATION of
    tensors with different scales, LOGISTIC on a 4-D tensor."""
    L = keras.layers
    inp = keras.Input((9, 9, 2))
    x = L.Conv2D(6, 3, activation="relu")(L.ZeroPadding2D(((1, 2), (0, 1)))(inp))
    x = L.AveragePooling2D(2, padding="same")(x)
    x = L.Resizing(10, 8, interpolation="nearest")(x)
    y = L.Conv2D(6, 1)(x)
    z = L.Multiply()([x, y])
    w = L.Activation("sigmoid")(L.Conv2D(3, 1)(x))
    x = L.Concatenate()([z, w, x])
    x = L.Conv2D(8, 3, strides=2)(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(7)(x))


def conv_paths(keras, rng):
    """The Cortex-M CONV_2D paths the other builders miss: 1x1 layers with 15 and 6 pixels (four
    at a time, then 3 and 2 left over), a 1x1 layer whose clamp is narrower than int8 (its output
    shares a concatenation's range), and biases near 2^30 in a 1x1 and a 3x3 layer (too large for
    the doubled requantisation, so the general one)."""
    L = keras.layers
    big = keras.initializers.RandomUniform(-2e4, 2e4, seed=int(rng.integers(1 << 30)))
    inp = keras.Input((3, 5, 6))
    a = L.Conv2D(8, 1, activation="relu")(inp)
    x = L.Concatenate()([a, L.Conv2D(4, 1)(inp)])
    x = L.Conv2D(8, 3, strides=2, padding="same", bias_initializer=big)(x)
    x = L.GlobalAveragePooling2D()(L.Conv2D(6, 1)(x))
    s = L.GlobalAveragePooling2D()(L.Conv2D(6, 1, bias_initializer=big)(inp))
    return keras.Model(inp, L.Dense(5)(L.Concatenate()([x, s])))


def im2col_quads(keras, rng):
    """Cortex-M im2col layers four pixels a pass (rows of at most 64 bytes): a 3x3 stride-2
    layer on 3 channels (35 pixels: quads with every window inside, quads with border windows
    or across output rows, 3 pixels left for the pairs) and a 2x2 layer padded below and right."""
    L = keras.layers
    inp = keras.Input((9, 13, 3))
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    x = L.Conv2D(8, 2, padding="same")(x)
    return keras.Model(inp, L.Dense(5)(L.GlobalAveragePooling2D()(x)))


def dw_shapes(keras, rng):
    """3x3 depthwise shapes the Cortex-M border kernel meets: dilation 2, stride 2 padded on
    both sides (odd input), valid padding, a one-pixel-wide map (every pixel a border pixel)."""
    L = keras.layers
    inp = keras.Input((9, 5, 8))
    x = L.ReLU()(L.DepthwiseConv2D(3, padding="same", dilation_rate=2)(inp))
    x = L.DepthwiseConv2D(3, strides=2, padding="same")(x)
    x = L.ReLU(6.0)(L.DepthwiseConv2D(3, padding="valid")(x))
    x = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.Flatten()(x)
    return keras.Model(inp, L.Dense(6)(x))


def dw_paths(keras, rng):
    """The Cortex-M 3x3 depthwise paths the other builders miss: a clamp narrower than int8 (a
    ReLU6 output sharing a concatenation's range) and biases near 2^30 (too large for the doubled
    requantisation, so the general one)."""
    L = keras.layers
    big = keras.initializers.RandomUniform(-2e4, 2e4, seed=int(rng.integers(1 << 30)))
    inp = keras.Input((6, 7, 8))
    a = L.DepthwiseConv2D(3, padding="same", activation="relu6")(inp)
    x = L.Concatenate()([a, L.Conv2D(8, 1)(inp)])
    x = L.DepthwiseConv2D(3, padding="same", bias_initializer=big)(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(5)(x))


def pw_paths(keras, rng):
    """The Cortex-M pw_quads paths the other builders miss: rows past one unrolled pass (136
    channels: 34 steps of 4, a first pass of 2 then one of 32), clamps narrower than int8 (ReLU6
    outputs sharing a concatenation's range) on both requantisations (biases near 2^30 take the
    general one) and 25 pixels (one left after the quads)."""
    L = keras.layers
    big = keras.initializers.RandomUniform(-2e4, 2e4, seed=int(rng.integers(1 << 30)))
    inp = keras.Input((5, 5, 136))
    a = L.Conv2D(8, 1, activation="relu6")(inp)
    b = L.Conv2D(8, 1, bias_initializer=big)(inp)
    c = L.Conv2D(8, 1, activation="relu6", bias_initializer=big)(inp)
    x = L.Conv2D(8, 1)(L.Concatenate()([a, b, c]))
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(5)(x))


BUILDERS: dict[str, Callable] = {
    f.__name__: f
    for f in (dense_stack, dense_sigmoid, residual_cnn, kws_dscnn, mobile_block, misc_ops)
}
#: built by name only, outside corpus_names() (the 36-model corpus stays as measured): shapes
#: for one engine path, e.g. the Cortex-M firmware's (tests/firmware/test_fw_qemu_corpus.py)
EXTRA_BUILDERS: dict[str, Callable] = {
    f.__name__: f for f in (conv_paths, dw_shapes, im2col_quads, dw_paths, pw_paths)
}


def corpus_names() -> list[str]:
    """Every corpus entry: each builder under each converter setting, two seeds."""
    return [f"{b}-{s}-{seed}" for b in BUILDERS for s in SETTINGS for seed in (0, 1)]


def _calibration(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Real-looking calibration inputs: smooth blobs plus noise in [0, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (64, *shape)).astype("float32")
    return np.clip(0.6 * x + 0.4 * x.mean(axis=tuple(range(1, x.ndim)), keepdims=True), 0, 1)


def build(name: str) -> bytes:
    """Convert one corpus entry to a full-int8 .tflite (int8 input and output)."""
    import keras
    import tensorflow as tf

    builder, setting, seed = name.split("-")
    keras.utils.set_random_seed(int(seed))
    model = {**BUILDERS, **EXTRA_BUILDERS}[builder](keras, np.random.default_rng(int(seed)))
    shape = tuple(model.input_shape[1:])
    x = _calibration(shape, int(seed))
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
        conv.representative_dataset = lambda: ([x[i : i + 1]] for i in range(len(x)))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        for attr, value in SETTINGS[setting].items():
            setattr(conv, attr, value)
        return conv.convert()


def ensure(out: Path, names: list[str]) -> Path:
    """Generate the missing ``names`` into ``out`` (a per-session cache) in a child process."""
    import subprocess

    missing = [n for n in names if not (out / f"{n}.tflite").exists()]
    if missing:
        cmd = [sys.executable, str(Path(__file__).resolve()), str(out), ",".join(missing)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise RuntimeError(f"corpus generation failed:\n{r.stderr[-3000:]}")
    return out


def main(argv: list[str]) -> int:
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    names = argv[2].split(",") if len(argv) > 2 else corpus_names()
    for name in names:
        (out / f"{name}.tflite").write_bytes(build(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
