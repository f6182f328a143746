"""Lower each TFLite int8 operator to one engine layer: descriptor words, parameters, data.

``lower`` walks the graph; the layers with weights (CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED) are lowered here, every other op in ``vpw_ops``, on the shared parts of
``vpw_layer``. All quantisation constants are derived exactly as LiteRT's reference kernels
derive them in their ``Prepare`` step (double-precision ``QuantizeMultiplier`` etc.).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from converters import quant, vpw_ops
from converters.errors import ConversionError
from converters.tflite_graph import Graph, Op, Tensor
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
from converters.vpw_table import TABLE_OPS

__all__ = ["LOWER", "Layer", "lower", "shape4"]


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


def _weights_layer(op: Op, g: Graph, spec: Spec) -> Layer:
    inp, filt, out = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    check_int8(op, inp, filt, out)
    if filt.data is None:
        raise op_error(op, "weights must be constant")
    if np.any(filt.zero_points != 0) and (op.name != "FULLY_CONNECTED" or len(filt.scales) > 1):
        raise op_error(op, "weights must be symmetric (zero point 0) unless per-tensor FC")
    w = base_words(op, g, inp, out)
    activation(op, out, w)
    kmajor = spec.kmajor
    if op.name == "CONV_2D":
        oc, kh, kw, ic = filt.shape
        if ic != w["ic"] or oc != w["oc"]:
            raise op_error(op, "grouped convolution is not supported")
        geometry(op, w, kh, kw)
        rows = filt.data.reshape(oc, -1)
    elif op.name == "DEPTHWISE_CONV_2D":
        _, kh, kw, oc = filt.shape
        geometry(op, w, kh, kw)
        w["dmul"] = oc // w["ic"]
        if w["dmul"] * w["ic"] != oc or oc != w["oc"]:
            raise op_error(op, "channel count does not match the depth multiplier")
        if kh * kw > 64:
            raise op_error(op, f"a {kh}x{kw} depthwise kernel has more than 64 taps")
        rows, kmajor = filt.data[0].reshape(kh * kw, oc).T, True  # [tap][OC] on every target
    else:  # FULLY_CONNECTED
        oc, k = filt.shape
        if k != inp.size or oc != w["oc"] or out.size != oc:
            raise op_error(op, "only batch-1 fully connected layers are supported")
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
            raise op_error(op, "bias must be a constant int32 tensor")
        bias = b.data.astype("<i4").reshape(oc)
    bias = _fold_bias(bias, np.asarray(rows), inp.zero_point, w.get("in2_zp", 0))
    mult, shift = _requant(op, inp, filt, out, oc)
    w["ch_stride"] = stride
    # LiteRT's reference FULLY_CONNECTED requantises with single rounding, per-channel and
    # per-tensor alike (CONV_2D and DEPTHWISE_CONV_2D round twice)
    params = [1 if op.name == "FULLY_CONNECTED" else 0, int(kmajor)]
    data = blob + bias.tobytes() + mult.tobytes() + shift.tobytes()
    direct = w["kh"] == w["kw"] == 1 and w.get("pt", 0) == 0 and w.get("pl", 0) == 0
    rows16 = op.name == "CONV_2D" and not spec.kmajor  # Cortex-M targets: P2 = 1
    params.append(int(rows16))
    layer = Layer(w, params, data, [inp.index], out.index, op.index, op.name)
    if op.name == "CONV_2D" and not kmajor:
        layer.extra["scratch"] = conv_scratch(np.asarray(rows).shape[1], oc, stride, direct, rows16)
    return layer


def conv_scratch(k: int, oc: int, stride: int, direct: bool, rows16: bool) -> int:
    """Scratch bytes of an output-channel-major CONV_2D, as ``vp_scratch_need`` computes them:
    two int8 im2col rows unless read in place, and with P2 = 1 (Cortex-M targets) a per-channel
    requantisation table (bias, multiplier, shift, rounding term: 16 bytes per channel) and the
    inputs sign-extended to int16 of four pixels (rows in place, or im2col rows of at most
    ``QUAD_K4`` bytes: then four im2col rows too) or two (2 bytes per K rounded up to 4, per
    pixel)."""
    k4 = (k + 3) & ~3
    quad = rows16 and (direct or k4 <= QUAD_K4)
    need = 0 if direct else (4 if quad else 2) * stride
    if rows16:
        need += (8 if quad else 4) * k4 + 16 * oc
    return need


#: im2col rows at most this long run four pixels a pass on Cortex-M (``VP_QUAD_K4`` in C)
QUAD_K4 = 64


#: TFLite op name -> its lowering: one engine layer, or several (a copy per concatenated input)
LOWER: dict[str, Callable[[Op, Graph, Spec], Layer | list[Layer]]] = {
    "CONV_2D": _weights_layer,
    "DEPTHWISE_CONV_2D": _weights_layer,
    "FULLY_CONNECTED": _weights_layer,
    **vpw_ops.LOWER,
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
            layers.append(vpw_ops.table_layer(op, g, tables[op.index]))
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
