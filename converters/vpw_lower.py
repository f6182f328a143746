"""Lower each TFLite int8 operator to one engine layer: descriptor words, parameters, data.

All quantisation constants are derived here exactly as LiteRT's reference kernels derive them
in their ``Prepare`` step (double-precision ``QuantizeMultiplier`` etc.).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from converters import quant
from converters.errors import ConversionError
from converters.tflite_graph import Graph, Op, Tensor
from converters.vpw_format import OPS
from converters.vpw_table import TABLE_OPS


@dataclass
class Layer:
    """One engine layer before arena planning (tensor ids are TFLite tensor indices)."""

    words: dict[str, int]
    params: list[int]
    data: bytes
    inputs: list[int]
    output: int
    op_index: int
    op_name: str = ""
    extra: dict = field(default_factory=dict)


def shape4(t: Tensor, where: str) -> tuple[int, int, int]:
    """(h, w, c) of a batch-1 tensor of rank 1..4 (leading dimensions padded with 1)."""
    s = (1,) * (4 - len(t.shape)) + tuple(t.shape)
    if len(t.shape) > 4 or s[0] != 1:
        raise ConversionError(
            f"{where}: tensor {t.name!r} shape {t.shape} needs batch 1, rank <= 4"
        )
    return s[1], s[2], s[3]


def _err(op: Op, msg: str) -> ConversionError:
    return ConversionError(f"op {op.index} ({op.name}): {msg}")


def _check_int8(op: Op, *ts: Tensor) -> None:
    for t in ts:
        if t.dtype is not np.int8 or len(t.scales) == 0:
            raise _err(op, f"tensor {t.name!r} is not quantised int8")


def _pad(stride: int, dil: int, in_size: int, k: int, out_size: int) -> int:
    """TFLite ``ComputePaddingWithOffset`` (the leading half of the total padding)."""
    eff = (k - 1) * dil + 1
    return max((out_size - 1) * stride + eff - in_size, 0) // 2


class Spec(NamedTuple):
    """How to pack: the AXI stream word (bytes) and the weight layout of the target."""

    word: int
    kmajor: bool  # generic targets: weights [K][OC]; Cortex-M: [OC][stride]


def _rows(rows: np.ndarray, spec: Spec) -> tuple[bytes, int]:
    """int8 weights ``[OC][K]`` in the target's layout: k-major (stride = OC), or output-channel
    rows each padded to a multiple of 4 bytes and of the AXI stream word (stride)."""
    rows = rows.astype(np.int8)
    if spec.kmajor:
        return np.ascontiguousarray(rows.T).tobytes(), rows.shape[0]
    k4 = -(-rows.shape[1] // 4) * 4
    stride = -(-k4 // spec.word) * spec.word
    out = np.zeros((rows.shape[0], stride), np.int8)
    out[:, : rows.shape[1]] = rows
    return out.tobytes(), stride


def _long_rows(k: int) -> bool:
    """Whether a generic target packs a layer with K inputs per output output-channel-major:
    the hosts' kernel then takes a vectorised int16 dot product over K per output (a horizontal
    sum each), which beats the k-major loop from 16 inputs on (measured on x86-64 AVX2)."""
    return k >= 16


def _fold_bias(bias: np.ndarray, rows: np.ndarray, in_zp: int, w_zp: int) -> np.ndarray:
    """``bias - in_zp * sum(w) + K * w_zp * in_zp`` per channel, modulo 2^32 as the kernel sums:
    the kernel then adds ``sum(w * x)`` (and subtracts ``w_zp * sum(x)``)."""
    sums = rows.astype(np.int64).sum(axis=1)
    folded = bias.astype(np.int64) - in_zp * sums + rows.shape[1] * w_zp * in_zp
    return ((folded + 2**31) % 2**32 - 2**31).astype("<i4")


def _requant(
    op: Op, inp: Tensor, filt: Tensor, out: Tensor, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (int32 multiplier, shift) as the kernels' Prepare computes them: CONV_2D and
    DEPTHWISE_CONV_2D (per-channel or per-tensor) and per-channel FULLY_CONNECTED divide in
    double; a per-tensor FULLY_CONNECTED rounds the input*filter product to float32 first
    (``GetQuantizedConvolutionMultipler``)."""
    scales = list(filt.scales) if len(filt.scales) == n else [filt.scales[0]] * n
    if op.name == "FULLY_CONNECTED" and len(filt.scales) == 1:
        prod = float(np.float32(inp.scales[0]) * np.float32(filt.scales[0]))
        reals = [prod / float(out.scales[0])] * n
    else:
        reals = [float(inp.scales[0]) * float(s) / float(out.scales[0]) for s in scales]
    pairs = [quant.quantize_multiplier(r) for r in reals]
    return np.array([p[0] for p in pairs], "<i4"), np.array([p[1] for p in pairs], "<i4")


def _base(op: Op, g: Graph, inp: Tensor, out: Tensor) -> dict[str, int]:
    ih, iw, ic = shape4(inp, f"op {op.index}")
    oh, ow, oc = shape4(out, f"op {op.index}")
    return dict(
        op=OPS[op.name], ih=ih, iw=iw, ic=ic, oh=oh, ow=ow, oc=oc, in_zp=inp.zero_point,
        out_zp=out.zero_point, act_min=-128, act_max=127, tensor=out.index, tfl_op=op.index,
        count=out.size,
    )  # fmt: skip


def _act(op: Op, out: Tensor, w: dict[str, int]) -> None:
    try:
        w["act_min"], w["act_max"] = quant.act_range(
            int(op.options.get("fusedActivationFunction", 0)), out.scale, out.zero_point
        )
    except ValueError as e:
        raise _err(op, str(e)) from None


def _geometry(op: Op, w: dict[str, int], kh: int, kw: int) -> None:
    o = op.options
    w.update(kh=kh, kw=kw, sh=int(o.get("strideH", 1)), sw=int(o.get("strideW", 1)))
    w.update(dh=int(o.get("dilationHFactor", 1)), dw=int(o.get("dilationWFactor", 1)))
    same = int(o.get("padding", 0)) == 0
    for size, k, s, d, name in (("ih", kh, "sh", "dh", "oh"), ("iw", kw, "sw", "dw", "ow")):
        eff = (k - 1) * w[d] + 1
        expect = (w[size] + w[s] - 1) // w[s] if same else (w[size] - eff + w[s]) // w[s]
        if expect != w[name]:
            raise _err(op, f"output size {w[name]} != expected {expect}")
    w["pt"] = _pad(w["sh"], w["dh"], w["ih"], kh, w["oh"]) if same else 0
    w["pl"] = _pad(w["sw"], w["dw"], w["iw"], kw, w["ow"]) if same else 0


def _weights_layer(op: Op, g: Graph, spec: Spec) -> Layer:
    inp, filt, out = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    _check_int8(op, inp, filt, out)
    if filt.data is None:
        raise _err(op, "weights must be constant")
    if np.any(filt.zero_points != 0) and (op.name != "FULLY_CONNECTED" or len(filt.scales) > 1):
        raise _err(op, "weights must be symmetric (zero point 0) unless per-tensor FC")
    w = _base(op, g, inp, out)
    _act(op, out, w)
    kmajor = spec.kmajor
    if op.name == "CONV_2D":
        oc, kh, kw, ic = filt.shape
        if ic != w["ic"] or oc != w["oc"]:
            raise _err(op, "grouped convolution is not supported")
        _geometry(op, w, kh, kw)
        rows = filt.data.reshape(oc, -1)
    elif op.name == "DEPTHWISE_CONV_2D":
        _, kh, kw, oc = filt.shape
        _geometry(op, w, kh, kw)
        w["dmul"] = oc // w["ic"]
        if w["dmul"] * w["ic"] != oc or oc != w["oc"]:
            raise _err(op, "channel count does not match the depth multiplier")
        if kh * kw > 64:
            raise _err(op, f"a {kh}x{kw} depthwise kernel has more than 64 taps")
        rows, kmajor = filt.data[0].reshape(kh * kw, oc).T, True  # [tap][OC] on every target
    else:  # FULLY_CONNECTED
        oc, k = filt.shape
        if k != inp.size or oc != w["oc"] or out.size != oc:
            raise _err(op, "only batch-1 fully connected layers are supported")
        w.update(ih=1, iw=1, ic=k, oh=1, ow=1, kh=1, kw=1, sh=1, sw=1, dh=1, dw=1)
        w["in2_zp"] = filt.zero_point
        rows = filt.data.reshape(oc, k)
    if kmajor and op.name != "DEPTHWISE_CONV_2D" and _long_rows(np.asarray(rows).shape[1]):
        kmajor = False  # generic targets too: the hosts' int16 dot-product kernel reads [OC][K]
    blob, stride = _rows(np.asarray(rows), spec._replace(kmajor=kmajor))
    bias = np.zeros(oc, "<i4")
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        b = g.tensors[op.inputs[2]]
        if b.data is None or b.dtype is not np.int32:
            raise _err(op, "bias must be a constant int32 tensor")
        bias = b.data.astype("<i4").reshape(oc)
    bias = _fold_bias(bias, np.asarray(rows), inp.zero_point, w.get("in2_zp", 0))
    mult, shift = _requant(op, inp, filt, out, oc)
    w["ch_stride"] = stride
    # LiteRT's reference FULLY_CONNECTED requantises with single rounding, per-channel and
    # per-tensor alike (CONV_2D and DEPTHWISE_CONV_2D round twice)
    params = [1 if op.name == "FULLY_CONNECTED" else 0, int(kmajor)]
    data = blob + bias.tobytes() + mult.tobytes() + shift.tobytes()
    layer = Layer(w, params, data, [inp.index], out.index, op.index, op.name)
    direct = w["kh"] == w["kw"] == 1 and w.get("pt", 0) == 0 and w.get("pl", 0) == 0
    if op.name == "CONV_2D" and not kmajor and not direct:
        layer.extra["scratch"] = 2 * stride  # two im2col rows
    return layer


def _add(op: Op, g: Graph, spec: Spec) -> Layer:
    a, b, out = (g.tensors[i] for i in (*op.inputs[:2], op.outputs[0]))
    _check_int8(op, a, b, out)
    if a.data is not None or b.data is not None:
        raise _err(op, "constant operands are not supported")
    if not a.size == b.size == out.size:
        raise _err(op, f"broadcasting {a.shape} + {b.shape} is not supported")
    w = _base(op, g, a, out)
    w["in2_zp"] = b.zero_point
    _act(op, out, w)
    left = 20
    twice_max = 2 * max(quant.f32(a.scale), quant.f32(b.scale))
    m1 = quant.quantize_multiplier(quant.f32(a.scale) / twice_max)
    m2 = quant.quantize_multiplier(quant.f32(b.scale) / twice_max)
    mo = quant.quantize_multiplier(twice_max / ((1 << left) * quant.f32(out.scale)))
    if max(m1[1], m2[1], mo[1]) > 0:
        raise _err(op, "input/output scales too far apart for the int8 ADD kernel")
    params = [left, m1[0], m1[1], m2[0], m2[1], mo[0], mo[1]]
    return Layer(w, params, b"", [a.index, b.index], out.index, op.index, op.name)


def _pool(op: Op, g: Graph, spec: Spec) -> Layer:
    inp, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    _check_int8(op, inp, out)
    if quant.f32(inp.scale) != quant.f32(out.scale) or inp.zero_point != out.zero_point:
        raise _err(op, "input and output quantisation must match")
    w = _base(op, g, inp, out)
    _act(op, out, w)
    _geometry(op, w, int(op.options["filterHeight"]), int(op.options["filterWidth"]))
    return Layer(w, [], b"", [inp.index], out.index, op.index, op.name)


def _mean(op: Op, g: Graph, spec: Spec) -> Layer:
    inp, axis, out = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    _check_int8(op, inp, out)
    if len(inp.shape) != 4 or axis.data is None or sorted(axis.data.ravel() % 4) != [1, 2]:
        raise _err(op, "only the spatial mean (axes 1 and 2 of a 4-D tensor) is supported")
    w = _base(op, g, inp, out)
    n = w["ih"] * w["iw"]
    # LiteRT 2.x QuantizedMeanOrSum: 1/n folded into the multiplier (keep_dims or not)
    m, s = quant.mean_multiplier(inp.scale, out.scale, n)
    params = [m, s, 0]
    return Layer(w, params, b"", [inp.index], out.index, op.index, op.name)


def _reshape(op: Op, g: Graph, spec: Spec) -> Layer:
    inp, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    _check_int8(op, inp, out)
    if inp.size != out.size or inp.zero_point != out.zero_point:
        raise _err(op, "reshape must keep size and quantisation")
    w = _base(op, g, inp, out) if len(out.shape) <= 4 else {}
    w.update(op=OPS["RESHAPE"], count=out.size, tensor=out.index, tfl_op=op.index)
    return Layer(w, [], b"", [inp.index], out.index, op.index, op.name)


def _pad_op(op: Op, g: Graph, spec: Spec) -> Layer:
    inp, pads, out = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    _check_int8(op, inp, out)
    if pads.data is None or len(inp.shape) != 4 or np.any(pads.data[0] != 0):
        raise _err(op, "only constant padding of a batch-1 4-D tensor is supported")
    value = out.zero_point
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        fill = g.tensors[op.inputs[2]].data
        if fill is None:
            raise _err(op, "only a constant padding value is supported")
        value = int(fill.ravel()[0])
    w = _base(op, g, inp, out)
    w.update(pt=int(pads.data[1, 0]), pl=int(pads.data[2, 0]))
    return Layer(w, [value, int(pads.data[3, 0])], b"", [inp.index], out.index, op.index, op.name)


def _softmax(op: Op, g: Graph, spec: Spec) -> Layer:
    inp, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    _check_int8(op, inp, out)
    w = _base(op, g, inp, out)
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
    _check_int8(op, inp, out)
    w = _base(op, g, inp, out)
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
    _check_int8(op, inp, out)
    if inp.size != out.size:
        raise _err(op, "input and output sizes differ")
    w = dict(op=OPS["LUT"], count=out.size, tensor=out.index, tfl_op=op.index)
    return Layer(w, [], table, [inp.index], out.index, op.index, op.name)


def _strides(t: Tensor, out_hwc: tuple[int, int, int], op: Op) -> list[int]:
    """Element strides (y, x, c) of ``t`` read over the output shape (0 where broadcast)."""
    h, w, c = shape4(t, f"op {op.index}")
    full = (w * c, c, 1)
    strides = []
    for n, o, st in zip((h, w, c), out_hwc, full, strict=True):
        if n not in (1, o):
            raise _err(op, f"cannot broadcast {t.shape} to the output")
        strides.append(st if n == o and o > 1 else 0)
    return strides


def _mul(op: Op, g: Graph, spec: Spec) -> Layer:
    a, b, out = (g.tensors[i] for i in (*op.inputs[:2], op.outputs[0]))
    _check_int8(op, a, b, out)
    if a.data is not None or b.data is not None:
        raise _err(op, "constant operands are not supported")
    w = _base(op, g, a, out)
    w["in2_zp"] = b.zero_point
    _act(op, out, w)
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
    _check_int8(op, out, *ins)
    if any(t.data is not None for t in ins):
        raise _err(op, "constant operands are not supported")
    if any(
        quant.f32(t.scale) != quant.f32(out.scale) or t.zero_point != out.zero_point for t in ins
    ):
        raise _err(op, "inputs must share the output's quantisation (LiteRT's int8 kernel does)")
    if int(op.options.get("fusedActivationFunction", 0)):
        raise _err(op, "a fused activation on CONCATENATION is not supported")
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
    "CONV_2D": _weights_layer,
    "DEPTHWISE_CONV_2D": _weights_layer,
    "FULLY_CONNECTED": _weights_layer,
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


def lower(
    g: Graph, word: int, tables: dict[int, bytes] | None = None, kmajor: bool = True
) -> list[Layer]:
    """Every op of the graph as engine layers; unsupported ops raise with name and index.

    ``tables`` holds the 256-byte table of each element-wise op (``vpw_table.unary_tables``);
    ``kmajor`` picks the generic weight layout (False: the Cortex-M one).
    """
    layers: list[Layer] = []
    tables = tables or {}
    spec = Spec(word, kmajor)
    for op in g.ops:
        if op.index in tables:
            layers.append(_table(op, g, tables[op.index]))
            continue
        fn = LOWER.get(op.name)
        if fn is None:
            known = ", ".join(sorted((*LOWER, *TABLE_OPS)))
            raise ConversionError(
                f"op {op.index} ({op.name}) is not supported by .vpw; known: {known}"
            )
        made = fn(op, g, spec)
        layers.extend(made if isinstance(made, list) else [made])
    return layers
