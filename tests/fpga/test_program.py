"""The overlay's program layout: what it refuses at pack time (op, index, why), how it splits a
model between the overlay and the PS, and that its memory images are laid out as the RTL reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fpga_models import mixed_model

from converters.vpw import read_vpw
from converters.vpw_format import OPS
from fpga.errors import UnsupportedLayer
from fpga.program import FIELDS, compile_vpw

TINY = Path(__file__).parents[1] / "pynq" / "data" / "tiny.vpw"


def test_tiny_runs_on_the_overlay_up_to_softmax_which_the_ps_finishes() -> None:
    model = read_vpw(TINY.read_bytes())
    p = compile_vpw(model)
    assert p.hw_layers == [0, 1, 2, 3, 4] and p.tail == [5]
    assert p.tail_offset == model.layers[4]["out"]
    # 3x3 conv 8x8x2->4, dw 3x3 s2 4x4x4, 1x1 4->8, FC 8->10
    assert p.macs == 64 * 4 * 9 * 2 + 16 * 4 * 9 + 16 * 8 * 4 + 80


def test_a_middle_layer_the_overlay_cannot_run_is_refused_naming_it() -> None:
    model = read_vpw(TINY.read_bytes())
    model.layers[1]["dmul"] = 2
    with pytest.raises(
        UnsupportedLayer, match=r"layer 1 \(DEPTHWISE_CONV_2D\).*depth multiplier 2"
    ):
        compile_vpw(model)
    model = read_vpw(TINY.read_bytes())
    model.layers[1]["op"] = OPS["MAX_POOL_2D"]
    with pytest.raises(UnsupportedLayer, match=r"layer 1 \(MAX_POOL_2D\).*layer 2 is CONV_2D"):
        compile_vpw(model)


def test_a_pool_and_classifier_after_the_last_conv_go_to_the_ps() -> None:
    model = read_vpw(TINY.read_bytes())
    model.layers[3]["op"] = OPS["AVERAGE_POOL_2D"]  # where MEAN was: FC and SOFTMAX follow
    p = compile_vpw(model)
    assert p.hw_layers == [0, 1, 2] and p.tail == [3, 4, 5]
    assert p.tail_offset == model.layers[2]["out"]


def test_conv_weights_are_words_of_input_by_output_lanes() -> None:
    model = read_vpw(mixed_model(3))
    p = compile_vpw(model)
    d = dict(zip(FIELDS, p.desc[0].tolist()))
    assert (d["icg"], d["ocg"], d["kh"], d["row0"], d["col0"]) == (2, 2, 3, -7 * 2, -2)
    ly = model.layers[0]
    rows = np.frombuffer(model.data, np.int8, ly["oc"] * ly["ch_stride"], ly["data"])
    rows = rows.reshape(ly["oc"], -1)[:, : 9 * 20].reshape(20, 3, 3, 20)
    word = p.wgt.view(np.int8).reshape(-1, 16, 16)  # [word][j][l]
    # og=1, ky=2, kx=1, icg=1 -> word ((1*3+2)*3+1)*2+1; j=3 -> input 19, l=2 -> output 18
    assert word[((1 * 3 + 2) * 3 + 1) * 2 + 1, 3, 2] == rows[18, 2, 1, 19]
    assert word[((1 * 3 + 2) * 3 + 1) * 2 + 1, 4, 2] == 0  # input channel 20: padding
