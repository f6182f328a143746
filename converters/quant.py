"""Quantisation arithmetic exactly as TFLite's kernels derive it (host side only).

Everything float-derived that the engine needs is computed here, once, and stored as
integers in the .vpw, so the C engine itself never touches floating point.
"""

from __future__ import annotations

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127


def round_half_away(x: float) -> int:
    """``std::round``: halves go away from zero (Python's ``round`` goes to even)."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplier``: ``real ~= m * 2**(shift - 31)`` with m in [2**30, 2**31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = round_half_away(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q_fixed), int(shift)


def f32(x: float) -> float:
    """Round a Python float to float32 precision, as the tensors store scales."""
    return float(np.float32(x))


def act_range(act: int, scale: float, zero_point: int) -> tuple[int, int]:
    """``CalculateActivationRangeQuantized`` for int8: NONE, RELU, RELU_N1_TO_1, RELU6."""

    def q(x: float) -> int:  # zero_point + round(x / scale), evaluated in float32 as TFLite does
        return zero_point + round_half_away(float(np.float32(x) / np.float32(scale)))

    lo, hi = INT8_MIN, INT8_MAX
    if act == 1:  # RELU
        lo = max(lo, q(0.0))
    elif act == 2:  # RELU_N1_TO_1
        lo, hi = max(lo, q(-1.0)), min(hi, q(1.0))
    elif act == 3:  # RELU6
        lo, hi = max(lo, q(0.0)), min(hi, q(6.0))
    elif act != 0:
        raise ValueError(f"fused activation {act} is not supported")
    return lo, hi


def srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul (reference for tests)."""
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    ab = a * b
    v = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    return abs(v) >> 31 if v >= 0 else -(abs(v) >> 31)


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if (x & mask) > threshold else 0)


def multiply_by_quantized_multiplier(x: int, m: int, shift: int) -> int:
    """TFLite ``MultiplyByQuantizedMultiplier`` (double rounding), for tests and planning."""
    left, right = max(shift, 0), max(-shift, 0)
    return rounding_divide_by_pot(srdhm(x * (1 << left), m), right)


def mean_multiplier(input_scale: float, output_scale: float, n: int) -> tuple[int, int]:
    """Multiplier of TFLite's integer MEAN: ``in/out`` scale with ``1/n`` folded in."""
    m, shift = quantize_multiplier(float(np.float32(input_scale)) / float(np.float32(output_scale)))
    s = min(n.bit_length() - 1, 32, 31 + shift)
    return int((m << s) // n), shift - s


SOFTMAX_DIFF_INT_BITS = 5  # kScaledDiffIntegerBits of TFLite's fixed-point int8 softmax


def softmax_params(input_scale: float, beta: float) -> tuple[int, int, int]:
    """``(input_multiplier, input_left_shift, diff_min)`` of TFLite's reference int8 softmax.

    ``PreprocessSoftmaxScaling`` (double rounding build) then ``-CalculateInputRadius``; the
    scale and beta are float32 tensor/option values widened to double, as LiteRT does.
    """
    real = float(np.float32(beta)) * float(np.float32(input_scale))
    real = min(real * (1 << (31 - SOFTMAX_DIFF_INT_BITS)), (1 << 31) - 1.0)
    mult, shift = quantize_multiplier(real)  # QuantizeMultiplierGreaterThanOne
    if shift < 0:
        raise ValueError(f"softmax input scale {input_scale} is too small (shift {shift})")
    bits = SOFTMAX_DIFF_INT_BITS
    radius = math.floor(((1 << bits) - 1) * (1 << (31 - bits)) / (1 << shift))
    return mult, shift, -radius
