"""One engine layer before arena planning and the checks and header words every lowering shares.

``vpw_lower`` lowers the layers with weights (convolutions, fully connected), ``vpw_ops`` every
other op; both build a ``Layer`` from these parts, so a check (int8 only, batch 1, fused
activation) is written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from converters import quant
from converters.errors import ConversionError
from converters.tflite_graph import Graph, Op, Tensor
from converters.vpw_format import OPS


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


def op_error(op: Op, msg: str) -> ConversionError:
    return ConversionError(f"op {op.index} ({op.name}): {msg}")


def check_int8(op: Op, *ts: Tensor) -> None:
    for t in ts:
        if t.dtype is not np.int8 or len(t.scales) == 0:
            raise op_error(op, f"tensor {t.name!r} is not quantised int8")


def same_pad(stride: int, dil: int, in_size: int, k: int, out_size: int) -> int:
    """TFLite ``ComputePaddingWithOffset`` (the leading half of the total padding)."""
    eff = (k - 1) * dil + 1
    return max((out_size - 1) * stride + eff - in_size, 0) // 2


class Spec(NamedTuple):
    """How to pack: the AXI stream word (bytes) and the weight layout of the target."""

    word: int
    kmajor: bool  # generic targets: weights [K][OC]; Cortex-M: [OC][stride]


def base_words(op: Op, g: Graph, inp: Tensor, out: Tensor) -> dict[str, int]:
    ih, iw, ic = shape4(inp, f"op {op.index}")
    oh, ow, oc = shape4(out, f"op {op.index}")
    return dict(
        op=OPS[op.name], ih=ih, iw=iw, ic=ic, oh=oh, ow=ow, oc=oc, in_zp=inp.zero_point,
        out_zp=out.zero_point, act_min=-128, act_max=127, tensor=out.index, tfl_op=op.index,
        count=out.size,
    )  # fmt: skip


def activation(op: Op, out: Tensor, w: dict[str, int]) -> None:
    try:
        w["act_min"], w["act_max"] = quant.act_range(
            int(op.options.get("fusedActivationFunction", 0)), out.scale, out.zero_point
        )
    except ValueError as e:
        raise op_error(op, str(e)) from None


def geometry(op: Op, w: dict[str, int], kh: int, kw: int) -> None:
    o = op.options
    w.update(kh=kh, kw=kw, sh=int(o.get("strideH", 1)), sw=int(o.get("strideW", 1)))
    w.update(dh=int(o.get("dilationHFactor", 1)), dw=int(o.get("dilationWFactor", 1)))
    same = int(o.get("padding", 0)) == 0
    for size, k, s, d, name in (("ih", kh, "sh", "dh", "oh"), ("iw", kw, "sw", "dw", "ow")):
        eff = (k - 1) * w[d] + 1
        expect = (w[size] + w[s] - 1) // w[s] if same else (w[size] - eff + w[s]) // w[s]
        if expect != w[name]:
            raise op_error(op, f"output size {w[name]} != expected {expect}")
    w["pt"] = same_pad(w["sh"], w["dh"], w["ih"], kh, w["oh"]) if same else 0
    w["pl"] = same_pad(w["sw"], w["dw"], w["iw"], kw, w["ow"]) if same else 0
