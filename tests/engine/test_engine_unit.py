"""TensorFlow-free checks of the C engine: soft-float, header constants, hand-built layers."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

import numpy as np
import pytest

from converters.vpw_format import HDR, OPS, P0, W, pack_desc, pack_header
from firmware_bridge import engine as eng

HEADER = Path(eng.__file__).parent / "engine" / "vp_engine.h"


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


def _f32(name: str):  # noqa: ANN202
    fn = getattr(eng._lib(), name)
    fn.restype = ctypes.c_uint32 if name != "vp_f32_round" else ctypes.c_int32
    fn.argtypes = [ctypes.c_uint32] * (1 if name == "vp_f32_round" else 2)
    return fn


def _bits(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32).view(np.uint32)


def test_soft_float_equals_ieee_float32() -> None:
    """Integer-only add/mul/div round exactly like the FPU (nearest even), subnormals too."""
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.uniform(0, 4, 3000), np.exp(rng.uniform(-100, 20, 3000))])
    b = np.concatenate([np.exp(rng.uniform(-100, 20, 3000)), rng.uniform(0, 4, 3000)])
    a, b = a.astype(np.float32), b.astype(np.float32)
    a[:50] = np.float32(1e-40) * rng.uniform(0, 1, 50).astype(np.float32)  # subnormal
    add, mul, div = _f32("vp_f32_add"), _f32("vp_f32_mul"), _f32("vp_f32_div")
    ops = ((add, np.add), (mul, np.multiply), (div, np.divide))
    with np.errstate(over="ignore", under="ignore"):
        for c_fn, np_fn in ops:
            expect = _bits(np_fn(a, b))
            got = np.array([c_fn(int(x), int(y)) for x, y in zip(_bits(a), _bits(b))], np.uint32)
            assert np.array_equal(got, expect), c_fn.__name__


@pytest.mark.parametrize(("x", "want"), [(0.5, 1), (1.49, 1), (2.5, 3), (0.0, 0), (126.5, 127)])
def test_soft_float_round_half_away(x: float, want: int) -> None:
    assert _f32("vp_f32_round")(int(_bits(np.array([x]))[0])) == want


def _model(layers: list[bytes], arena: int, in_shape, out_shape, in_off, out_off) -> bytes:  # noqa: ANN001
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
