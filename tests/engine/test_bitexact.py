"""The C engine's int8 outputs equal LiteRT BUILTIN_REF value for value (0 differences)."""

from __future__ import annotations

import numpy as np
import pytest

from converters.verify import compare_with_reference, reference_interpreter
from converters.vpw import read_vpw, tflite_to_vpw

pytestmark = [pytest.mark.tf, pytest.mark.slow]
RANDOM = ("convs:1", "convs:2", "pools:1", "residual:1", "residual:2", "resize:1")


def _inputs(vpw: bytes, n: int, seed: int) -> np.ndarray:
    size = int(np.prod(read_vpw(vpw).input_shape))
    return np.random.default_rng(seed).integers(-128, 128, (n, size), dtype=np.int8)


@pytest.mark.parametrize("spec", RANDOM)
def test_random_models_are_bit_exact(load, spec, record_property) -> None:
    tfl = load(spec)
    vpw = tflite_to_vpw(tfl)
    r = compare_with_reference(tfl, _inputs(vpw, 100, 7), vpw=vpw)
    print(f"{spec}: {r['values']} values compared, {r['differing']} differ")
    record_property("values_compared", r["values"])
    assert r["differing"] == 0, r["first_bad_layer"]


def test_tiny_variant_200_inputs_bit_exact(load, record_property) -> None:
    tfl = load("tiny:0")
    r = compare_with_reference(tfl, _inputs(tflite_to_vpw(tfl), 200, 11))
    print(f"tiny variant: {r['values']} values compared, {r['differing']} differ")
    record_property("values_compared", r["values"])
    assert r["values"] == 2000 and r["differing"] == 0, r["first_bad_layer"]


@pytest.mark.parametrize("spec", ["pools:1", "residual:1", "tiny:0"])
def test_every_intermediate_tensor_matches(load, spec) -> None:
    """Layer by layer against LiteRT's preserved tensors, not only the final output."""
    from firmware_bridge.engine import Engine

    tfl = load(spec)
    vpw = tflite_to_vpw(tfl)
    eng, it = Engine(vpw), reference_interpreter(tfl, preserve=True)
    din = it.get_input_details()[0]
    compared = 0
    for x in _inputs(vpw, 20, 3):
        it.set_tensor(din["index"], x.reshape(din["shape"]))
        it.invoke()
        for _, tensor, ours in eng.run_layers(x):
            ref = it.get_tensor(tensor).ravel()
            assert np.array_equal(ref, ours), f"tensor {tensor} differs"
            compared += ref.size
    print(f"{spec}: {compared} intermediate values compared")


def test_golden_section_self_test(load) -> None:
    from firmware_bridge.engine import Engine

    tfl = load("convs:1")
    x = _inputs(tflite_to_vpw(tfl), 1, 5)[0]
    vpw = tflite_to_vpw(tfl, golden_input=x)
    m = read_vpw(vpw)
    assert m.golden_input is not None and np.array_equal(m.golden_input.ravel(), x)
    eng = Engine(vpw)
    assert eng.info["has_golden"] and eng.self_test()
    assert np.array_equal(m.golden_output, eng.run(x).ravel())


def test_stream_word_padding(load) -> None:
    """Cortex-M weight rows are padded to the AXI word; the result does not depend on the word."""
    tfl = load("residual:1")
    a = tflite_to_vpw(tfl, stream_word_bits=64, target="cortex-m4")
    b = tflite_to_vpw(tfl, stream_word_bits=128, target="cortex-m4")
    for layer in read_vpw(b).layers:
        if layer["op"] in (1, 3):  # CONV_2D, FULLY_CONNECTED rows (depthwise is [tap][OC])
            assert layer["ch_stride"] % 16 == 0
    x = _inputs(a, 5, 1)
    assert compare_with_reference(tfl, x, vpw=b)["differing"] == 0


@pytest.mark.parametrize("spec", ["convs:1", "residual:2", "tiny:0"])
def test_both_layouts_bit_exact(load, spec) -> None:
    """The generic (k-major) and Cortex-M (oc-major, im2col) layouts give the same outputs."""
    from firmware_bridge.engine import Engine

    tfl = load(spec)
    gen, mcu = tflite_to_vpw(tfl, target="generic"), tflite_to_vpw(tfl, target="cortex-m4")
    assert read_vpw(gen).header["target_name"] == "generic"
    assert read_vpw(mcu).header["target_name"] == "cortex-m4"
    xs = _inputs(gen, 30, 4)
    assert compare_with_reference(tfl, xs, vpw=mcu)["differing"] == 0
    assert np.array_equal(Engine(gen).run_batch(xs), Engine(mcu).run_batch(xs))
