"""Element-wise int8 operators as 256-entry tables, computed by LiteRT's reference kernels.

An int8 -> int8 element-wise operator (LOGISTIC, TANH, HARD_SWISH, int8 QUANTIZE) has only
256 possible inputs, so the engine runs it as a table lookup. The table is not an emulation:
at pack time the operator alone, with its own tensors' quantisation, is run by LiteRT's
``BUILTIN_REF`` kernels on all 256 values, so the engine equals the reference by construction
(and stays equal if a LiteRT release changes the fixed-point recipe).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from converters.errors import ConversionError

#: TFLite operators that are element-wise int8 -> int8 and run as a table
TABLE_OPS = ("LOGISTIC", "TANH", "HARD_SWISH", "QUANTIZE")


def _one_op_model(schema: Any, model: Any, op_index: int) -> bytes:
    """A model holding only ``op_index``, its input and output reshaped to 256 values."""
    import flatbuffers

    src = model.subgraphs[0]
    op = copy.deepcopy(src.operators[op_index])
    tensors = [copy.deepcopy(src.tensors[op.inputs[0]]), copy.deepcopy(src.tensors[op.outputs[0]])]
    for t in tensors:
        t.shape, t.shapeSignature, t.buffer = [256], None, 0
    op.inputs, op.outputs, op.intermediates = [0], [1], None
    sub = schema.SubGraphT()
    sub.tensors, sub.inputs, sub.outputs, sub.operators = tensors, [0], [1], [op]
    mini = schema.ModelT()
    mini.version, mini.operatorCodes = model.version, model.operatorCodes
    mini.buffers, mini.subgraphs = [schema.BufferT()], [sub]
    b = flatbuffers.Builder(1024)
    b.Finish(mini.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def unary_tables(tflite_bytes: bytes, op_indices: list[int]) -> dict[int, bytes]:
    """``{op index: 256 output bytes}``; entry ``i`` is the output for the int8 input ``i - 128``
    stored at index ``i ^ 0x80`` (the input byte as unsigned), as the engine indexes it."""
    if not op_indices:
        return {}
    from ai_edge_litert import schema_py_generated as schema

    from converters.interpreters import reference_interpreter

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(bytes(tflite_bytes), 0))
    x = np.arange(-128, 128, dtype=np.int8)
    tables = {}
    for i in op_indices:
        try:
            it = reference_interpreter(_one_op_model(schema, model, i))
            it.set_tensor(it.get_input_details()[0]["index"], x)
            it.invoke()
            y = it.get_tensor(it.get_output_details()[0]["index"]).astype(np.int8)
        except Exception as e:  # LiteRT rejects quantisation it cannot run (raises RuntimeError)
            raise ConversionError(f"op {i}: LiteRT's reference kernel refuses it: {e}") from None
        table = np.empty(256, np.int8)
        table[x.view(np.uint8)] = y
        tables[i] = table.tobytes()
    return tables
