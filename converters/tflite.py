"""Keras -> full-int8 TFLite, and the graph facts read back from a .tflite.

``to_int8_tflite`` is pure (returns bytes). Reading a .tflite uses LiteRT's
flatbuffer schema only, so cards and checks work where TensorFlow is absent.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from vp_edge.errors import ConversionError

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


@dataclass(frozen=True)
class Op:
    index: int
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class Graph:
    """What vp-edge needs to know of a .tflite: ops, tensor shapes, I/O quantisation."""

    ops: tuple[Op, ...]
    shapes: dict[int, tuple[int, ...]]
    input_shape: tuple[int, ...]
    input_dtype: str
    input_scale: float
    input_zero_point: int
    output_shape: tuple[int, ...]
    output_dtype: str
    output_scale: float
    output_zero_point: int
    weights: int  # int8 weight + int32 bias elements stored in the file


_TYPES = {0: "float32", 2: "int32", 3: "uint8", 9: "int8", 7: "int16", 4: "int64"}


def read_graph(tflite: bytes) -> Graph:
    """Parse the flatbuffer (no interpreter, no TensorFlow)."""
    from ai_edge_litert import schema_py_generated as schema

    try:
        model = schema.Model.GetRootAsModel(tflite, 0)
        sg = model.Subgraphs(0)
    except Exception as e:  # flatbuffers raises assorted errors on garbage
        raise ConversionError(f"not a valid .tflite flatbuffer ({type(e).__name__}: {e})") from None
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    ops = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        name = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM")
        ops.append(
            Op(i, name, tuple(op.InputsAsNumpy().tolist()), tuple(op.OutputsAsNumpy().tolist()))
        )
    shapes: dict[int, tuple[int, ...]] = {}
    weights = 0
    for t in range(sg.TensorsLength()):
        tensor = sg.Tensors(t)
        shapes[t] = tuple(int(s) for s in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
        buf = model.Buffers(tensor.Buffer())
        if buf is not None and buf.DataLength() > 0 and tensor.Type() in (9, 2):
            weights += int(np.prod(shapes[t])) if shapes[t] else 1
    i_t, o_t = sg.Tensors(sg.Inputs(0)), sg.Tensors(sg.Outputs(0))
    iq, oq = _quant(i_t), _quant(o_t)
    return Graph(
        tuple(ops),
        shapes,
        shapes[sg.Inputs(0)],
        _TYPES.get(i_t.Type(), str(i_t.Type())),
        *iq,
        shapes[sg.Outputs(0)],
        _TYPES.get(o_t.Type(), str(o_t.Type())),
        *oq,
        weights,
    )


def _quant(tensor: Any) -> tuple[float, int]:
    q = tensor.Quantization()
    if q is None or q.ScaleLength() == 0:
        return 0.0, 0
    return float(q.Scale(0)), int(q.ZeroPoint(0))


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
    from vp_edge.quiet import import_tensorflow, native_quiet

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
