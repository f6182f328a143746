"""TensorFlow-free tests of the .vpw converter pieces: quantisation maths, parsing, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from converters import quant
from converters.tflite_graph import Graph, Op, Tensor
from converters.vpw_format import pack_header, read_vpw
from converters.vpw_lower import QUAD_K4, conv_scratch, lower
from vp_edge.errors import ConversionError


@given(st.floats(min_value=1e-9, max_value=1e4, allow_nan=False))
def test_quantize_multiplier_reconstructs_the_scale(real: float) -> None:
    m, shift = quant.quantize_multiplier(real)
    if m:
        assert 2**30 <= m < 2**31
        assert abs(m * 2.0 ** (shift - 31) - real) <= real * 2**-30


def test_quantize_multiplier_known_values() -> None:
    assert quant.quantize_multiplier(0.5) == (2**30, 0)
    assert quant.quantize_multiplier(1.0) == (2**30, 1)
    assert quant.quantize_multiplier(0.0) == (0, 0)


def test_activation_ranges_follow_tflite() -> None:
    assert quant.act_range(0, 0.1, 3) == (-128, 127)
    assert quant.act_range(1, 0.1, -5) == (-5, 127)
    assert quant.act_range(3, 0.05, -128) == (-128, -8)  # 6 / 0.05 = 120


def test_round_half_away_from_zero() -> None:
    assert [quant.round_half_away(v) for v in (0.5, 1.5, -0.5, -2.5, 2.4)] == [1, 2, -1, -3, 2]


def test_read_vpw_detects_corruption() -> None:
    blob = bytearray(pack_header({"n_layers": 0}, b"\x00" * 16) + b"\x00" * 16)
    read_vpw(bytes(blob))
    blob[-1] ^= 1
    with pytest.raises(ConversionError, match="SHA-256"):
        read_vpw(bytes(blob))
    with pytest.raises(ConversionError, match="magic"):
        read_vpw(b"nope" * 50)


def _t(i: int, shape: tuple[int, ...]) -> Tensor:
    return Tensor(i, f"t{i}", shape, np.int8, np.array([0.1], np.float32), np.array([0]))


def test_unsupported_op_names_op_and_index() -> None:
    g = Graph([_t(0, (1, 4)), _t(1, (1, 4))], [Op(0, "TANH", [0], [1])], [0], [1])
    with pytest.raises(ConversionError, match=r"op 0 \(TANH\) is not supported"):
        lower(g, 8)


def test_broadcast_add_is_refused_with_op_index() -> None:
    ts = [_t(0, (1, 2, 2, 4)), _t(1, (1, 1, 1, 4)), _t(2, (1, 2, 2, 4))]
    g = Graph(ts, [Op(3, "ADD", [0, 1], [2])], [0], [2])
    with pytest.raises(ConversionError, match=r"op 3 \(ADD\).*broadcast"):
        lower(g, 8)


def test_conv_scratch_four_im2col_rows_only_where_short() -> None:
    """vp_scratch_need's rule: im2col rows of at most QUAD_K4 bytes run four pixels a pass on
    Cortex-M (four int8 rows and their int16 lanes), longer ones two; 1x1 rows lie in place."""
    assert QUAD_K4 == 64
    assert conv_scratch(27, 8, 28, direct=False, rows16=True) == 16 * 8 + 8 * 28 + 4 * 28
    assert conv_scratch(64, 8, 64, direct=False, rows16=True) == 16 * 8 + 8 * 64 + 4 * 64
    assert conv_scratch(65, 8, 68, direct=False, rows16=True) == 16 * 8 + 4 * 68 + 2 * 68
    assert conv_scratch(144, 16, 144, direct=True, rows16=True) == 16 * 16 + 8 * 144
    assert conv_scratch(27, 8, 28, direct=False, rows16=False) == 2 * 28
