"""``vp-edge overlay run``'s inputs and exit code at the library level (no RTL simulated)."""

from __future__ import annotations

import numpy as np
import pytest

from vp_edge.errors import UsageError
from vp_edge.overlay_run import overlay_exit_code, overlay_inputs


def test_random_inputs_are_seeded_int8() -> None:
    a = overlay_inputs({}, (4, 4, 3), 5, random=True)
    assert a.shape == (5, 4, 4, 3) and a.dtype == np.int8
    assert np.array_equal(a, overlay_inputs({}, (4, 4, 3), 5, random=True))


def test_images_need_a_fashion_mnist_shaped_model() -> None:
    with pytest.raises(UsageError, match="not Fashion-MNIST's 28x28x1: use --random"):
        overlay_inputs({"in_scale": 1 / 255, "in_zp": -128}, (32, 32, 3), 2, random=False)


def test_images_quantised_with_the_model_input() -> None:
    xs = overlay_inputs({"in_scale": 1 / 255, "in_zp": -128}, (28, 28, 1), 2, random=False)
    assert xs.shape == (2, 28, 28, 1) and xs.dtype == np.int8
    assert xs.min() == -128 and xs.max() > 0  # black background, bright garment pixels


def test_exit_code_4_when_outputs_or_layers_differ() -> None:
    assert overlay_exit_code({"differing": 0, "layer_differing": 0}) == 0
    assert overlay_exit_code({"differing": 1, "layer_differing": 0}) == 4
    assert overlay_exit_code({"differing": 0, "layer_differing": 2}) == 4
