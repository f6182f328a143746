"""Lowering of the ops without weights: ADD, MUL, pooling, MEAN, RESHAPE, PAD, SOFTMAX,
nearest-neighbour resize, CONCATENATION and the 256-entry tables of element-wise ops.

Quantisation constants are derived as LiteRT's reference kernels derive them in ``Prepare``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from converters import quant
from converters.errors import ConversionError
from converters.tflite_graph import Graph, Op, Tensor
from converters.vpw_format import OPS
from converters.vpw_layer import (
    Layer,
    Spec,
    activation,
    base_words,
    check_int8,
    geometry,
    op_error,
    shape4,
)


def _add(op: Op, g: Graph, spec: Spec) -> Layer:
    a, b, out = (g.tensors[i] for i in (*op.inputs[:2], op.outputs[0]))
    check_int8(op, a, b, out)
    if a.data is not None or b.data is not None:
        raise op_error(op, "constant operands are not supported")
    if not a.size == b.size == out.size:
        raise op_error(op, f"broadcasting {a.shape} + {b.shape} is not supported")
    w = base_words(op, g, a, out)
    w["in2_zp"] = b.zero_point
    activation(op, out, w)
    left = 20
    twice_max = 2 * max(quant.f32(a.scale), quant.f32(b.scale))
    m1 = quant.quantize_multiplier(quant.f32(a.scale) / twice_max)
    m2 = quant.quantize_multiplier(quant.f32(b.scale) / twice_max)
    mo = quant.quantize_multiplier(twice_max / ((1 << left) * quant.f32(out.scale)))
    if max(m1[1], m2[1], mo[1]) > 0:
        raise op_error(op, "input/output scales too far apart for the int8 ADD kernel")
    params = [left, m1[0], m1[1], m2[0], m2[1], mo[0], mo[1]]
    return Layer(w, params, b"", [a.index, b.index], out.index, op.index, op.name)


def _pool(op: Op, g: Graph, spec: Spec) -> Layer:
    inp, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    check_int8(op, inp, out)
    if quant.f32(inp.scale) != quant.f32(out.scale) or inp.zero_point != out.zero_point:
        raise op_error(op, "input and output quantisation must match")
    w = base_words(op, g, inp, out)
    activation(op, out, w)
    geometry(op, w, int(op.options["filterHeight"]), int(op.options["filterWidth"]))
    return Layer(w, [], b"", [inp.index], out.index, op.index, op.name)


def _mean(op: Op, g: Graph, spec: Spec) -> Layer:
    inp, axis, out = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    check_int8(op, inp, out)
    if len(inp.shape) != 4 or axis.data is None or sorted(axis.data.ravel() % 4) != [1, 2]:
        raise op_error(op, "only the spatial mean (axes 1 and 2 of a 4-D tensor) is supported")
    w = base_words(op, g, inp, out)
    n = w["ih"] * w["iw"]
    # LiteRT 2.x QuantizedMeanOrSum: 1/n folded into the multiplier (keep_dims or not)
    m, s = quant.mean_multiplier(inp.scale, out.scale, n)
    params = [m, s, 0]
    return Layer(w, params, b"", [inp.index], out.index, op.index, op.name)


def _reshape(op: Op, g: Graph, spec: Spec) -> Layer:
    inp, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    check_int8(op, inp, out)
    if inp.size != out.size or inp.zero_point != out.zero_point:
        raise op_error(op, "reshape must keep size and quantisation")
    w = base_words(op, g, inp, out) if len(out.shape) <= 4 else {}
    w.update(op=OPS["RESHAPE"], count=out.size, tensor=out.index, tfl_op=op.index)
    return Layer(w, [], b"", [inp.index], out.index, op.index, op.name)


def _pad_op(op: Op, g: Graph, spec: Spec) -> Layer:
    inp, pads, out = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    check_int8(op, inp, out)
    if pads.data is None or len(inp.shape) != 4 or np.any(pads.data[0] != 0):
        raise op_error(op, "only constant padding of a batch-1 4-D tensor is supported")
    value = out.zero_point
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        fill = g.tensors[op.inputs[2]].data
        if fill is None:
            raise op_error(op, "only a constant padding value is supported")
        value = int(fill.ravel()[0])
    w = base_words(op, g, inp, out)
    w.update(pt=int(pads.data[1, 0]), pl=int(pads.data[2, 0]))
    return Layer(w, [value, int(pads.data[3, 0])], b"", [inp.index], out.index, op.index, op.name)


def _softmax(op: Op, g: Graph, spec: Spec) -> Layer:
    inp, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    check_int8(op, inp, out)
    w = base_words(op, g, inp, out)
    if out.zero_point != -128 or np.float32(out.scale) != np.float32(1.0 / 256):
        raise ConversionError(
            f"op {op.index} (SOFTMAX): int8 output must have scale 1/256 and zero point -128, "
            f"got {out.scale} / {out.zero_point}"
        )
    if w["oc"] > 256:
        raise ConversionError(f"op {op.index} (SOFTMAX): depth {w['oc']} > 256 is not supported")
    beta = float(op.options.get("beta", 1.0))
    try:
        params = list(quant.softmax_params(inp.scale, beta))
    except ValueError as e:
        raise ConversionError(f"op {op.index} (SOFTMAX): {e}") from e
    return Layer(w, params, b"", [inp.index], out.index, op.index, op.name)


def _resize_nn(op: Op, g: Graph, spec: Spec) -> Layer:
    inp, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    check_int8(op, inp, out)
    w = base_words(op, g, inp, out)
    align, half = bool(op.options.get("alignCorners")), bool(op.options.get("halfPixelCenters"))

    def index(n_in: int, n_out: int) -> np.ndarray:
        f = np.float32
        scale = f(n_in - 1) / f(n_out - 1) if align and n_out > 1 else f(n_in) / f(n_out)
        off = f(0.5) if half else f(0.0)
        idx = []
        for o in range(n_out):
            v = f(f(o) + off) * scale
            i = quant.round_half_away(float(v)) if align else int(np.floor(v))
            i = min(i, n_in - 1)
            idx.append(max(i, 0) if half else i)
        return np.array(idx, "<i4")

    data = index(w["ih"], w["oh"]).tobytes() + index(w["iw"], w["ow"]).tobytes()
    return Layer(w, [], data, [inp.index], out.index, op.index, op.name)


def _table(op: Op, g: Graph, table: bytes) -> Layer:
    """Element-wise int8 op as a 256-byte table made by LiteRT's reference kernel (vpw_table)."""
    inp, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    check_int8(op, inp, out)
    if inp.size != out.size:
        raise op_error(op, "input and output sizes differ")
    w = dict(op=OPS["LUT"], count=out.size, tensor=out.index, tfl_op=op.index)
    return Layer(w, [], table, [inp.index], out.index, op.index, op.name)


def _strides(t: Tensor, out_hwc: tuple[int, int, int], op: Op) -> list[int]:
    """Element strides (y, x, c) of ``t`` read over the output shape (0 where broadcast)."""
    h, w, c = shape4(t, f"op {op.index}")
    full = (w * c, c, 1)
    strides = []
    for n, o, st in zip((h, w, c), out_hwc, full, strict=True):
        if n not in (1, o):
            raise op_error(op, f"cannot broadcast {t.shape} to the output")
        strides.append(st if n == o and o > 1 else 0)
    return strides


def _mul(op: Op, g: Graph, spec: Spec) -> Layer:
    a, b, out = (g.tensors[i] for i in (*op.inputs[:2], op.outputs[0]))
    check_int8(op, a, b, out)
    if a.data is not None or b.data is not None:
        raise op_error(op, "constant operands are not supported")
    w = base_words(op, g, a, out)
    w["in2_zp"] = b.zero_point
    activation(op, out, w)
    # mul.cc Prepare: the product of the float32 scales, divided in float32, then widened
    real = float(np.float32(np.float32(a.scale) * np.float32(b.scale)) / np.float32(out.scale))
    m, shift = quant.quantize_multiplier(real)
    hwc = (w["oh"], w["ow"], w["oc"])
    params = [m, shift, *_strides(a, hwc, op), *_strides(b, hwc, op)]
    return Layer(w, params, b"", [a.index, b.index], out.index, op.index, op.name)


def _concat(op: Op, g: Graph, spec: Spec) -> list[Layer]:
    """One block copy per input; only the last names the output tensor (the others leave it
    partly written, so the layer-by-layer check skips them)."""
    out = g.tensors[op.outputs[0]]
    ins = [g.tensors[i] for i in op.inputs]
    check_int8(op, out, *ins)
    if any(t.data is not None for t in ins):
        raise op_error(op, "constant operands are not supported")
    if any(
        quant.f32(t.scale) != quant.f32(out.scale) or t.zero_point != out.zero_point for t in ins
    ):
        raise op_error(
            op, "inputs must share the output's quantisation (LiteRT's int8 kernel does)"
        )
    if int(op.options.get("fusedActivationFunction", 0)):
        raise op_error(op, "a fused activation on CONCATENATION is not supported")
    rank = len(out.shape)
    axis = int(op.options.get("axis", 0)) % max(rank, 1)
    outer = int(np.prod(out.shape[:axis]))
    row = int(np.prod(out.shape[axis:]))
    layers, offset = [], 0
    for k, t in enumerate(ins):
        inner = int(np.prod(t.shape[axis:]))
        last = k == len(ins) - 1
        w = dict(op=OPS["COPY"], tensor=out.index if last else -1, tfl_op=op.index, count=out.size)
        layers.append(Layer(w, [outer, inner, row, offset], b"", [t.index], out.index, op.index,
                            op.name))  # fmt: skip
        offset += inner
    return layers


#: TFLite op name -> its lowering: one engine layer, or several (a copy per concatenated input)
LOWER: dict[str, Callable[[Op, Graph, Spec], Layer | list[Layer]]] = {
    "ADD": _add,
    "AVERAGE_POOL_2D": _pool,
    "MAX_POOL_2D": _pool,
    "MEAN": _mean,
    "RESHAPE": _reshape,
    "PAD": _pad_op,
    "SOFTMAX": _softmax,
    "RESIZE_NEAREST_NEIGHBOR": _resize_nn,
    "MUL": _mul,
    "CONCATENATION": _concat,
}
table_layer = _table
