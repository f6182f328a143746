"""Keras -> full-int8 TFLite, and the check that boards can run a graph.

``to_int8_tflite`` is pure (returns bytes). A .tflite is read by the one reader,
``converters.tflite_graph`` (re-exported here: ``Graph``, ``Op``, ``read_graph``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from converters.errors import ConversionError
from converters.tflite_graph import Graph, Op, read_graph

__all__ = ["HINTS", "SUPPORTED_OPS", "Graph", "Op", "check_graph", "read_graph", "to_int8_tflite"]

#: ops our C engine, tflite-micro and the reference kernels all run on int8.
SUPPORTED_OPS = frozenset(
    {
        "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "AVERAGE_POOL_2D",
        "MAX_POOL_2D", "MEAN", "RESHAPE", "PAD", "SOFTMAX", "RESIZE_NEAREST_NEIGHBOR",
    }
)  # fmt: skip

HINTS = {
    "TOPK_V2": "remove top_k from the model: boards take top-k from the int8 output",
    "REDUCE_MAX": "use GlobalAveragePooling2D (MEAN) instead of GlobalMaxPooling2D",
    "RESIZE_BILINEAR": "use Resizing(interpolation='nearest') in the family (resize = nearest)",
    "QUANTIZE": "the graph has float islands: feed float inputs in [0, 1] and avoid custom layers",
    "DEQUANTIZE": "the graph has float islands: avoid layers without int8 kernels",
    "READ_VARIABLE": "export with training=False (stateful layers such as BatchNormalization)",
    "ASSIGN_VARIABLE": "export with training=False (stateful layers such as BatchNormalization)",
}


def check_graph(graph: Graph, name: str) -> None:
    """Refuse graphs that boards cannot run, naming the ops and what to change."""
    bad = [op for op in graph.ops if op.name not in SUPPORTED_OPS]
    if bad:
        lines = [
            f"  op #{op.index} {op.name}: {HINTS.get(op.name, 'not supported on int8 boards')}"
            for op in bad[:12]
        ]
        more = f"\n  ... and {len(bad) - 12} more" if len(bad) > 12 else ""
        raise ConversionError(
            f"{name}: the int8 graph has ops boards cannot run "
            f"(supported: {', '.join(sorted(SUPPORTED_OPS))}):\n" + "\n".join(lines) + more
        )
    if graph.input_dtype != "int8" or graph.output_dtype != "int8":
        raise ConversionError(
            f"{name}: input/output must be int8, got {graph.input_dtype}/{graph.output_dtype}"
        )


def to_int8_tflite(model: Any, representative: np.ndarray, name: str | None = None) -> bytes:
    """Full-int8 conversion (int8 weights, activations, input and output).

    ``representative``: float32 inputs preprocessed as in training (calibration).
    Exported with ``training=False`` so BatchNormalization folds into the convs.
    """
    from converters.quiet import import_tensorflow, native_quiet

    import_tensorflow()
    import keras
    import tensorflow as tf

    name = name or model.name
    if len(representative) == 0:
        raise ConversionError(f"{name}: calibration needs at least one representative input")
    shape = (1, *model.input_shape[1:])
    with tempfile.TemporaryDirectory() as tmp:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(
            "serve",
            lambda t: model(t, training=False),
            input_signature=[tf.TensorSpec(shape, tf.float32)],
        )
        with native_quiet():
            archive.write_out(tmp, verbose=False)
        conv = tf.lite.TFLiteConverter.from_saved_model(tmp)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: _calibration(representative)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        try:
            with native_quiet():  # the quantiser's settings, printed from C++
                tflite = conv.convert()
        except Exception as e:  # the converter raises ConverterError / RuntimeError with op names
            raise ConversionError(
                f"{name}: int8 conversion failed: {_first_lines(str(e))}"
            ) from None
    check_graph(read_graph(tflite), name)
    return tflite


def _calibration(x: np.ndarray) -> Iterator[list[np.ndarray]]:
    for i in range(len(x)):
        yield [x[i : i + 1].astype(np.float32)]


def _first_lines(text: str, n: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[:n])
