"""A variant's layers from its shape alone (r, alpha, F), without TensorFlow.

The planner weighs hundreds of candidates in a second, so it cannot build Keras models. This walk
follows ``vp_edge.models.variant_model`` layer for layer (a test checks parameters and MACs against
Keras and against the converted int8 graph), and gives what the cost models read: MACs per layer
kind, weights and channels (the bytes of a packed model), and the activations that must be alive
at once (the arena).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from vp_edge.family import BLOCKS, Family, Variant, make_divisible


@dataclass(frozen=True)
class Layer:
    """One int8 op after conversion (BatchNorm folded into the convolution before it)."""

    kind: str  # "conv" (k x k), "pw" (1x1), "dw" (3x3 depthwise), "fc", "add", "pool", "resize"
    in_shape: tuple[int, int, int]  # (h, w, c)
    out_shape: tuple[int, int, int]
    kernel: int = 1
    #: bytes that stay alive beside this op's input and output (a residual branch's input)
    held: int = 0

    @property
    def outputs(self) -> int:
        return math.prod(self.out_shape)

    @property
    def macs(self) -> int:
        h, w, c = self.out_shape
        if self.kind in ("conv", "pw"):
            return h * w * c * self.kernel * self.kernel * self.in_shape[2]
        if self.kind == "dw":
            return h * w * c * self.kernel * self.kernel
        if self.kind == "fc":
            return self.in_shape[2] * c
        return 0

    @property
    def weights(self) -> int:
        """int8 weights of the converted op (no BatchNorm: it is folded)."""
        cin, cout = self.in_shape[2], self.out_shape[2]
        if self.kind in ("conv", "pw"):
            return self.kernel * self.kernel * cin * cout
        if self.kind == "dw":
            return self.kernel * self.kernel * cout
        if self.kind == "fc":
            return cin * cout
        return 0

    @property
    def channels(self) -> int:
        """Output channels with a bias and a per-channel requantisation (0 for add and pool)."""
        return self.out_shape[2] if self.weights else 0

    @property
    def scratch(self) -> int:
        """Scratch bytes the Cortex-M engine asks for beside the arena's tensors
        (``vp_scratch_need``): a CONV_2D's two im2col rows unless read in place (1x1), its
        per-channel requantisation table and its inputs widened to int16 (four pixels of a 1x1,
        two rows otherwise, K rounded up to 4); the stride of an im2col row taken as K."""
        if self.kind not in ("conv", "pw"):
            return 0
        k4 = -(-self.kernel * self.kernel * self.in_shape[2] // 4) * 4
        direct = self.kernel == 1
        return (0 if direct else 2 * k4) + (8 if direct else 4) * k4 + 16 * self.out_shape[2]

    @property
    def live_bytes(self) -> int:
        """int8 bytes alive while this op runs: its input, its output and what is held."""
        return math.prod(self.in_shape) + self.outputs + self.held


@dataclass(frozen=True)
class Shape:
    """What a candidate variant is, for costing: the family's input and the variant's knobs."""

    resolution: int
    alpha: float
    head: int
    channels: int = 1  # input channels (the family's input_shape[2])
    num_classes: int = 10
    stem_stride: int = 2
    output_stride: int = 32
    head_bias: bool = True  # the variants' head conv has a bias; the baseline's top has none
    input_hw: tuple[int, int] = (0, 0)  # the family's raw input; each variant resizes it to r


def _same(n: int, stride: int) -> int:
    return -(-n // stride)  # "same" padding: ceil(n / stride)


def _block(
    layers: list[Layer], x: tuple[int, int, int], expansion: int, out_ch: int, stride: int
) -> tuple[int, int, int]:
    """One inverted residual, as ``vp_edge.models._inverted_residual`` builds it."""
    h, w, cin = x
    residual = stride == 1 and cin == out_ch
    held = math.prod(x) if residual else 0
    y = x
    if expansion != 1:
        y = (h, w, expansion * cin)
        layers.append(Layer("pw", x, y, 1, held))
    ho, wo = _same(h, stride), _same(w, stride)
    dw = (ho, wo, y[2])
    layers.append(Layer("dw", y, dw, 3, held))
    out = (ho, wo, out_ch)
    layers.append(Layer("pw", dw, out, 1, held))
    if residual:
        layers.append(Layer("add", out, out, 0, held))
    return out


def variant_layers(s: Shape) -> list[Layer]:
    """The converted variant's ops in order: stem, 17 inverted residuals, head, pool, logits."""
    layers: list[Layer] = []
    r = s.resolution
    if s.input_hw != (0, 0) and s.input_hw != (r, r):
        layers.append(Layer("resize", (*s.input_hw, s.channels), (r, r, s.channels)))
    stem = make_divisible(32 * s.alpha)
    x = (_same(r, s.stem_stride), _same(r, s.stem_stride), stem)
    layers.append(Layer("conv", (r, r, s.channels), x, 3))
    last_down = max(i for i, b in enumerate(BLOCKS) if b[3] == 2)
    for stage, (expansion, channels, repeats, stride) in enumerate(BLOCKS):
        if s.output_stride == 16 and stage == last_down:
            stride = 1
        out_ch = make_divisible(int(channels * s.alpha))
        for i in range(repeats):
            x = _block(layers, x, expansion, out_ch, stride if i == 0 else 1)
    head = (x[0], x[1], s.head)
    layers.append(Layer("pw", x, head, 1))
    layers.append(Layer("pool", head, (1, 1, s.head)))
    layers.append(Layer("fc", (1, 1, s.head), (1, 1, s.num_classes)))
    return layers


@dataclass(frozen=True)
class Counts:
    """Totals of a candidate that the cost models are linear in."""

    macs: int
    weights: int
    channels: int
    layers: int  # ops with weights
    peak_live: int  # the largest ``live_bytes`` of any op
    max_scratch: int  # the largest ``scratch`` of any op
    macs_by_kind: dict[str, int]
    outputs_by_kind: dict[str, int]
    keras_params: int  # what Keras' count_params() reports (BatchNorm's four per channel)
    kernel_terms: tuple[float, ...]  # loop trips of the Cortex-M kernels (``kernel_terms``)


def _half(n: int) -> int:
    return -(-n // 2)


def kernel_terms(layers: list[Layer]) -> tuple[float, ...]:
    """Loop trips of the Cortex-M kernels, summed over the layers (firmware_bridge/engine/
    vp_kernels.c): a conv, 1x1 or fully connected layer runs ceil(pixels / 2) x ceil(out / 2)
    blocks of two pixels by two output channels, each a pass over K = k*k*in in steps of four
    int8 pairs (SMLAD), then requantises every output; a depthwise layer steps four channels at
    a time over its k*k taps per output pixel. A whole-network MAC count misses what odd and
    one-pixel layers cost (a late 1x1 layer of a small input computes half its block for
    nothing), which is where the planner's small MCU variants sit. (block steps, blocks,
    outputs of MAC layers, depthwise steps, depthwise outputs, outputs of add/pool/resize)."""
    steps = blocks = outs = dw_steps = dw_outs = other = 0
    for layer in layers:
        h, w, c = layer.out_shape
        if layer.kind in ("conv", "pw", "fc"):
            k = layer.kernel * layer.kernel * layer.in_shape[2]
            b = _half(h * w) * _half(c)
            blocks, steps, outs = blocks + b, steps + b * -(-k // 4), outs + layer.outputs
        elif layer.kind == "dw":
            dw_steps += h * w * -(-c // 4) * layer.kernel * layer.kernel
            dw_outs += layer.outputs
        else:
            other += layer.outputs
    return (steps, blocks, outs, dw_steps, dw_outs, other)


@cache
def counts(s: Shape) -> Counts:
    """Totals of one candidate (cached: the search asks for each shape several times)."""
    layers = variant_layers(s)
    by_kind: dict[str, int] = {}
    outs: dict[str, int] = {}
    for layer in layers:
        by_kind[layer.kind] = by_kind.get(layer.kind, 0) + layer.macs
        outs[layer.kind] = outs.get(layer.kind, 0) + layer.outputs
    bn = sum(4 * layer.channels for layer in layers if layer.kind in ("conv", "pw", "dw"))
    head_bias = s.head if s.head_bias else 0
    fc_bias = s.num_classes
    weights = sum(layer.weights for layer in layers)
    return Counts(
        macs=sum(by_kind.values()),
        weights=weights,
        channels=sum(layer.channels for layer in layers),
        layers=sum(1 for layer in layers if layer.weights),
        peak_live=max(layer.live_bytes for layer in layers),
        max_scratch=max(layer.scratch for layer in layers),
        macs_by_kind=by_kind,
        outputs_by_kind=outs,
        keras_params=weights + bn + head_bias + fc_bias,
        kernel_terms=kernel_terms(layers),
    )


def baseline_shape(like: Shape, resolution: int) -> Shape:
    """MobileNetV2 alpha 1.0 at ``resolution`` with its 1280-wide top, as the paper's bounds
    compare against (``vp_edge.models.baseline_model``)."""
    return Shape(
        resolution,
        1.0,
        1280,
        like.channels,
        like.num_classes,
        like.stem_stride,
        like.output_stride,
        head_bias=False,
        input_hw=like.input_hw,
    )


def shape_of(family: Family, v: Variant) -> Shape:
    """The costing shape of a family member."""
    h, w, c = family.input_shape
    return Shape(
        v.resolution,
        v.alpha,
        v.head,
        c,
        family.num_classes,
        family.stem_stride,
        family.output_stride,
        input_hw=(h, w),
    )
