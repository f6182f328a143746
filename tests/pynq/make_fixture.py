"""Make tests/pynq/data/tiny.vpw, the model the PYNQ tests use when run on their own.

The PYNQ tests run in .venv-pynq, which has no TensorFlow, so they cannot convert a model;
this script (main environment, TensorFlow) trains a tiny seeded CNN on learnable synthetic
data for a few steps, converts it to full int8 and packs it with ``tflite_to_vpw``, golden
section included. Under ``make test`` the outer test also packs the engine's test models
(tests/engine/make_models.py) and hands them over. Usage:
``.venv/bin/python tests/pynq/make_fixture.py [OUT.vpw]``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

HERE = Path(__file__).resolve().parent
SHAPE, CLASSES = (8, 8, 2), 10


def tiny_tflite(seed: int = 0) -> bytes:
    """Conv + BN + ReLU6, depthwise stride 2, pointwise, mean, dense, softmax: ~1k parameters."""
    import keras
    import tensorflow as tf
    from keras import layers

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    templates = rng.uniform(0, 1, (CLASSES, *SHAPE)).astype("float32")
    y = rng.integers(0, CLASSES, 512)
    x = np.clip(templates[y] * 0.7 + rng.uniform(0, 0.3, (512, *SHAPE)), 0, 0.999)
    x = x.astype("float32")
    inp = keras.Input(SHAPE)
    h = layers.Conv2D(4, 3, padding="same")(inp)
    h = layers.ReLU(6.0)(layers.BatchNormalization(momentum=0.9)(h))
    h = layers.DepthwiseConv2D(3, strides=2, padding="same")(h)
    h = layers.ReLU()(h)
    h = layers.Conv2D(8, 1)(h)
    h = layers.GlobalAveragePooling2D()(h)
    out = layers.Softmax()(layers.Dense(CLASSES)(h))
    model = keras.Model(inp, out)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    with tempfile.TemporaryDirectory() as d:
        model.export(d, verbose=False)
        conv = tf.lite.TFLiteConverter.from_saved_model(d)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([x[i : i + 1]] for i in range(64))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        return conv.convert()


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE.parent.parent))
    from converters.vpw import tflite_to_vpw

    out = Path(argv[0]) if argv else HERE / "data" / "tiny.vpw"
    golden = np.random.default_rng(1).integers(-128, 128, SHAPE, dtype=np.int8)
    blob = tflite_to_vpw(tiny_tflite(), golden_input=golden)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(blob)
    print(f"{out}: {len(blob)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
