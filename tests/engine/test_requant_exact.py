"""The engine's requantisation equals TFLite's MultiplyByQuantizedMultiplier (double rounding) on
hand-built 1x1 convolutions: the one-multiply form (multiplier > 2^30, right shift 2..31), the
general form (a channel outside that range), both weight layouts, results at rounding ties."""

from __future__ import annotations

import numpy as np
import pytest

from converters import quant
from converters.vpw_format import OPS, pack_desc, pack_header
from firmware_bridge import engine as eng

PIX, OC = 64, 24  # one 8x8 input channel, OC output channels: 1,536 values per model


def _conv(
    weights: np.ndarray, bias: np.ndarray, mult: np.ndarray, shift: np.ndarray, kmajor: bool
) -> bytes:
    """A 8x8x1 -> 8x8xOC 1x1 CONV_2D (no activation clamp beyond int8), weights [OC]."""
    w = weights.astype(np.int8)
    blob = w.tobytes() if kmajor else np.pad(w.reshape(OC, 1), ((0, 0), (0, 3))).tobytes()
    data = blob + bias.astype("<i4").tobytes() + mult.astype("<i4").tobytes()
    data += shift.astype("<i4").tobytes()
    words = dict(op=OPS["CONV_2D"], ih=8, iw=8, ic=1, oh=8, ow=8, oc=OC, kh=1, kw=1, sh=1, sw=1,
                 dh=1, dw=1, act_min=-128, act_max=127, out_zp=3, ch_stride=OC if kmajor else 4,
                 data=0, data_len=len(data), **{"in": 0, "out": PIX})  # fmt: skip
    desc = pack_desc(words, [0, int(kmajor)])
    hdr = dict(n_layers=1, desc_size=192, layers_offset=160, data_offset=160 + len(desc),
               data_size=len(data), arena_size=PIX * (1 + OC), stream_word_bytes=8, in_n=1,
               in_h=8, in_w=8, in_c=1, out_n=1, out_h=8, out_w=8, out_c=OC, in_offset=0,
               out_offset=PIX, in_size=PIX, out_size=PIX * OC)  # fmt: skip
    return pack_header(hdr, desc + data) + desc + data


def _case(rng: np.random.Generator, general: bool):
    mult = rng.integers((1 << 30) + 1, 1 << 31, OC)
    shift = -rng.integers(2, 32, OC)
    if general:  # the layer falls back to the general form for every channel
        mult[0], shift[1], shift[2], mult[3] = 1 << 30, -1, 0, (1 << 30) + 12345
    # bias puts the result inside int8 (and some at the far ends), the weights spread it
    scale = 2.0 ** (31 - shift.astype(np.float64)) / mult
    lim = 2**31 - 1 - 128 * 128  # bias + w * x stays in int32
    bias = np.clip(rng.integers(-120, 120, OC) * scale, -lim, lim)
    bias[-1], bias[-2] = lim, -lim
    w = rng.integers(-128, 128, OC)
    w[:4] = 1  # unit steps: the input walks across rounding ties
    return w, bias.astype(np.int64), mult, shift


def _want(x: np.ndarray, w, bias, mult, shift) -> np.ndarray:
    out = np.empty((PIX, OC), np.int64)
    for p in range(PIX):
        for c in range(OC):
            acc = int(bias[c]) + int(w[c]) * int(x[p])
            out[p, c] = quant.multiply_by_quantized_multiplier(acc, int(mult[c]), int(shift[c]))
    return np.clip(out + 3, -128, 127)


@pytest.mark.parametrize("general", [False, True])
@pytest.mark.parametrize("kmajor", [True, False])
def test_requantisation_matches_reference(general: bool, kmajor: bool) -> None:
    rng = np.random.default_rng(11 + general)
    x = rng.integers(-128, 128, PIX).astype(np.int8)
    for _ in range(3):
        w, bias, mult, shift = _case(rng, general)
        got = eng.Engine(_conv(w, bias, mult, shift, kmajor)).run(x).reshape(PIX, OC)
        assert np.array_equal(got, _want(x, w, bias, mult, shift))
