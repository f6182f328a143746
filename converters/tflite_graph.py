"""The one reader of a .tflite flatbuffer (no interpreter, no TensorFlow).

Cost (MACs, cards), the board-support checks and packing to ``.vpw`` all read this ``Graph``.
Uses the schema module that ships with ``ai_edge_litert`` (plus ``flatbuffers``), so it runs on
hosts and boards that have LiteRT but not TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from converters.errors import ConversionError

_NP_TYPES = {0: np.float32, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16, 9: np.int8}


@dataclass
class Tensor:
    """One tensor: shape, dtype, quantisation and (for constants) data."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: Any
    scales: np.ndarray
    zero_points: np.ndarray
    data: np.ndarray | None = None

    @property
    def scale(self) -> float:
        return float(self.scales[0]) if len(self.scales) else 0.0

    @property
    def zero_point(self) -> int:
        return int(self.zero_points[0]) if len(self.zero_points) else 0

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1


@dataclass
class Op:
    """One operator in execution order: builtin name, tensor indices, builtin options."""

    index: int
    name: str
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    """The first subgraph: tensors, ops in execution order, input and output tensor indices."""

    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]

    @property
    def shapes(self) -> dict[int, tuple[int, ...]]:
        return {t.index: t.shape for t in self.tensors}

    @property
    def input(self) -> Tensor:
        return self.tensors[self.inputs[0]]

    @property
    def output(self) -> Tensor:
        return self.tensors[self.outputs[0]]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.input.shape

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.output.shape

    @property
    def input_dtype(self) -> str:
        return dtype_name(self.input)

    @property
    def output_dtype(self) -> str:
        return dtype_name(self.output)

    @property
    def input_scale(self) -> float:
        return self.input.scale

    @property
    def input_zero_point(self) -> int:
        return self.input.zero_point

    @property
    def output_scale(self) -> float:
        return self.output.scale

    @property
    def output_zero_point(self) -> int:
        return self.output.zero_point

    @property
    def weights(self) -> int:
        """int8 weight and int32 bias elements stored in the file."""
        return sum(
            t.size for t in self.tensors if t.data is not None and t.dtype in (np.int8, np.int32)
        )


def dtype_name(t: Tensor) -> str:
    return np.dtype(t.dtype).name if t.dtype is not None else "unknown"


def _schema() -> Any:
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError as e:  # pragma: no cover - depends on the host
        raise ConversionError(f"reading .tflite needs ai-edge-litert and flatbuffers: {e}") from e
    return schema


def read_graph(tflite_bytes: bytes) -> Graph:
    """Parse the first subgraph of a .tflite model."""
    schema = _schema()
    try:
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(bytes(tflite_bytes), 0))
    except Exception as e:  # flatbuffers raises assorted errors on garbage
        raise ConversionError(f"not a valid .tflite flatbuffer ({type(e).__name__}: {e})") from None
    if not model.subgraphs:
        raise ConversionError("the .tflite model has no subgraph")
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    g = model.subgraphs[0]
    tensors = []
    for i, t in enumerate(g.tensors):
        q = t.quantization
        scales = np.asarray(q.scale if q is not None and q.scale is not None else [], np.float32)
        zps = np.asarray(q.zeroPoint if q is not None and q.zeroPoint is not None else [], np.int64)
        dtype = _NP_TYPES.get(t.type)
        shape = tuple(int(s) for s in (t.shape if t.shape is not None else []))
        buf = model.buffers[t.buffer] if t.buffer < len(model.buffers) else None
        data = None
        if buf is not None and buf.data is not None and len(buf.data) and dtype is not None:
            raw = np.asarray(buf.data, np.uint8).tobytes()
            data = np.frombuffer(raw, dtype).reshape(shape)
        name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
        tensors.append(Tensor(i, name, shape, dtype, scales, zps, data))
    ops = []
    for i, op in enumerate(g.operators):
        oc = model.operatorCodes[op.opcodeIndex]
        code = max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))
        opts = vars(op.builtinOptions) if op.builtinOptions is not None else {}
        ins = [int(j) for j in (op.inputs if op.inputs is not None else [])]
        outs = [int(j) for j in (op.outputs if op.outputs is not None else [])]
        ops.append(Op(i, names.get(code, f"BUILTIN_{code}"), ins, outs, dict(opts)))
    return Graph(tensors, ops, [int(i) for i in g.inputs], [int(i) for i in g.outputs])
