"""TensorFlow-free checks of the C engine: header constants, hand-built layers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from converters import quant
from converters.vpw_format import HDR, OPS, P0, W, pack_desc, pack_header
from firmware_bridge import engine as eng

HEADER = Path(eng.__file__).parent / "c" / "vp_engine.h"


def test_c_header_matches_python_layout() -> None:
    """One source of truth: every op code, descriptor word and header offset agrees."""
    defs = dict(re.findall(r"#define (VP_\w+) \(?(-?\d+)\)?", HEADER.read_text()))
    for name, code in OPS.items():
        assert int(defs[f"VP_OP_{name}"]) == code
    for name, idx in W.items():
        assert int(defs[f"VP_W_{name.upper()}"]) == idx
    assert int(defs["VP_P0"]) == P0
    for name in ("flags", "n_layers", "data_offset", "arena_size", "in_offset", "out_size"):
        assert int(defs[f"VP_H_{name.upper()}"]) == HDR[name]


def _model(layers: list[bytes], arena: int, in_shape, out_shape, in_off, out_off) -> bytes:
    descs = b"".join(layers)
    n_in, n_out = int(np.prod(in_shape)), int(np.prod(out_shape))
    hdr = dict(
        n_layers=len(layers), desc_size=192, layers_offset=160, data_offset=160 + len(descs),
        data_size=0, arena_size=arena, stream_word_bytes=8, in_n=1, in_h=in_shape[0],
        in_w=in_shape[1], in_c=in_shape[2], out_n=1, out_h=out_shape[0], out_w=out_shape[1],
        out_c=out_shape[2], in_offset=in_off, out_offset=out_off, in_size=n_in, out_size=n_out,
    )  # fmt: skip
    return pack_header(hdr, descs) + descs


def _pad_then_maxpool() -> bytes:
    pad = pack_desc(
        {
            "op": OPS["PAD"],
            "ih": 3,
            "iw": 3,
            "ic": 2,
            "oh": 5,
            "ow": 4,
            "oc": 2,
            "pt": 1,
            "pl": 0,
            "act_min": -128,
            "act_max": 127,
            "in": 0,
            "out": 24,
        },  # fmt: skip
        [-7, 0],
    )
    pool = pack_desc(
        {
            "op": OPS["MAX_POOL_2D"],
            "ih": 5,
            "iw": 4,
            "ic": 2,
            "oh": 2,
            "ow": 2,
            "oc": 2,
            "kh": 2,
            "kw": 2,
            "sh": 2,
            "sw": 2,
            "dh": 1,
            "dw": 1,
            "act_min": -100,
            "act_max": 100,
            "in": 24,
            "out": 64,
        },  # fmt: skip
        [],
    )
    return _model([pad, pool], 72, (3, 3, 2), (2, 2, 2), 0, 64)


def test_hand_built_pad_and_max_pool() -> None:
    x = np.arange(-9, 9, dtype=np.int8).reshape(1, 3, 3, 2) * 14
    padded = np.full((5, 4, 2), -7, np.int8)
    padded[1:4, 0:3] = x[0]
    want = np.clip(padded[:4].reshape(2, 2, 2, 2, 2).max(axis=(1, 3)), -100, 100)
    got = eng.Engine(_pad_then_maxpool()).run(x)
    assert np.array_equal(got.reshape(2, 2, 2), want)


def test_check_rejects_out_of_bounds_and_garbage() -> None:
    good = bytearray(_pad_then_maxpool())
    eng.Engine(bytes(good))
    with pytest.raises(eng.EngineError, match="magic"):
        eng.Engine(b"XXXX" + bytes(good[4:]))
    with pytest.raises(eng.EngineError, match="sizes"):
        eng.Engine(bytes(good[:-4]))
    bad = bytearray(good)
    bad[160 + 192 + 4 * W["out"] : 160 + 192 + 4 * W["out"] + 4] = (70).to_bytes(4, "little")
    with pytest.raises(eng.EngineError, match="layer 1") as e:
        eng.Engine(bytes(bad))
    assert e.value.layer == 1


def test_scratch_and_input_size_are_enforced() -> None:
    e = eng.Engine(_pad_then_maxpool())
    with pytest.raises(eng.EngineError, match="int8"):
        e.run(np.zeros(18, np.int16))
    assert e.info["arena_size"] == 72 and e.info["n_layers"] == 2


# LiteRT BUILTIN_REF outputs measured on a real variant (softmax input scale 0.08604796230792999,
# output 1/256, zp -128): each sits where the float softmax is within ~1e-6 of a .5 boundary,
# so only the fixed-point reference algorithm reproduces them.
SOFTMAX_SCALE = 0.08604796230792999
SOFTMAX_CASES = [
    ([-54, -66, -27, -54, -14, -85, -21, -91, -58, -95],
     [-124, -127, -86, -124, 1, -128, -57, -128, -125, -128]),
    ([-56, -57, -76, 7, -54, -89, -57, -86, -33, -95],
     [-127, -127, -128, 115, -127, -128, -127, -128, -120, -128]),
    ([-61, -63, -34, -19, -1, -94, -34, -99, -72, -91],
     [-127, -127, -117, -88, 63, -128, -117, -128, -128, -128]),
]  # fmt: skip


def _softmax_model(scale: float, rows: int = 1, depth: int = 10) -> bytes:
    n = rows * depth
    words = dict(
        op=OPS["SOFTMAX"], ih=1, iw=rows, ic=depth, oh=1, ow=rows, oc=depth, in_zp=0,
        out_zp=-128, act_min=-128, act_max=127, count=n, out=n,
    )  # fmt: skip
    layer = pack_desc(words, list(quant.softmax_params(scale, 1.0)))
    return _model([layer], 2 * n, (1, rows, depth), (1, rows, depth), 0, n)


def test_softmax_params_match_tflite() -> None:
    """PreprocessSoftmaxScaling + CalculateInputRadius for the measured variant's scale."""
    mult, shift, diff_min = quant.softmax_params(SOFTMAX_SCALE, 1.0)
    real = float(np.float32(SOFTMAX_SCALE)) * (1 << 26)
    assert shift == 23 and abs(mult * 2.0 ** (shift - 31) - real) < 1
    assert diff_min == -((31 << 26) // (1 << 23)) == -248


@pytest.mark.parametrize(("logits", "want"), SOFTMAX_CASES)
def test_softmax_is_litert_fixed_point_reference(logits: list[int], want: list[int]) -> None:
    x = np.array(logits, np.int8).reshape(1, 1, 1, 10)
    got = eng.Engine(_softmax_model(SOFTMAX_SCALE)).run(x)
    assert got.ravel().tolist() == want


def test_softmax_rows_and_far_below_diff_min() -> None:
    """Each row is normalised on its own; logits more than diff_min below the max give -128."""
    x = np.array([c[0] for c in SOFTMAX_CASES], np.int8).reshape(1, 1, 3, 10)
    got = eng.Engine(_softmax_model(SOFTMAX_SCALE, rows=3)).run(x)
    assert got.reshape(3, 10).tolist() == [c[1] for c in SOFTMAX_CASES]
    y = np.full((1, 1, 1, 10), -128, np.int8)
    y[0, 0, 0, 3] = 127  # diff -255 < diff_min -248 everywhere else
    got = eng.Engine(_softmax_model(SOFTMAX_SCALE)).run(y).ravel()
    assert got[3] == 127 and (np.delete(got, 3) == -128).all()
