"""Conformance corpus: the engine equals LiteRT BUILTIN_REF on every layer of 36 models.

The models (tests/engine/make_corpus.py) are made by the TFLite converter with per-channel
weights, per-tensor weights (the converter's per-channel switch) and per-tensor Dense layers
only, over Dense stacks, residual CNNs, depthwise-separable KWS nets and MobileNetV3-style
blocks; together they hold every op the packer accepts. Random and real-looking inputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from converters.tflite_graph import read_graph
from converters.verify import compare_with_reference, reference_interpreter
from converters.vpw import read_vpw, tflite_to_vpw

pytestmark = [pytest.mark.tf, pytest.mark.slow]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_corpus import corpus_names, ensure  # noqa: E402

NAMES = corpus_names()


@pytest.fixture(scope="session")
def corpus_dir(request: pytest.FixtureRequest) -> Path:
    pytest.importorskip("tensorflow")
    pytest.importorskip("ai_edge_litert")
    try:
        return ensure(Path(request.config.cache.mkdir("vp_engine_corpus_v1")), NAMES)
    except RuntimeError as e:
        pytest.fail(str(e))


def _real_looking(vpw: bytes, n: int, seed: int) -> np.ndarray:
    """Smooth images (a ramp plus a blob plus noise in [0, 1)) quantised with the input's
    scale and zero point: values a sensor would give, not uniform int8 noise."""
    m = read_vpw(vpw)
    _, h, w, c = m.input_shape
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    out = []
    for _ in range(n):
        cy, cx, r = rng.uniform(0, 1, 3)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (0.05 + 0.2 * r))
        img = 0.4 * blob[..., None] + 0.3 * (yy * rng.uniform())[..., None]
        img = np.clip(img + rng.uniform(0, 0.3, (h, w, c)), 0, 0.999)
        q = np.round(img / m.header["in_scale"]) + m.header["in_zp"]
        out.append(np.clip(q, -128, 127).astype(np.int8).ravel())
    return np.stack(out)


def test_corpus_covers_every_op_and_quantisation(corpus_dir: Path) -> None:
    assert len(NAMES) >= 30
    ops, per_tensor, per_channel = set(), set(), set()
    for name in NAMES:
        g = read_graph((corpus_dir / f"{name}.tflite").read_bytes())
        for op in g.ops:
            ops.add(op.name)
            if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
                n = len(g.tensors[op.inputs[1]].scales)
                (per_channel if n > 1 else per_tensor).add(op.name)
    want = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "AVERAGE_POOL_2D",
            "MAX_POOL_2D", "MEAN", "PAD", "RESHAPE", "CONCATENATION", "SOFTMAX", "LOGISTIC",
            "HARD_SWISH", "RESIZE_NEAREST_NEIGHBOR", "QUANTIZE"}  # fmt: skip
    assert want <= ops, want - ops
    assert per_tensor == per_channel == {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}


@pytest.mark.parametrize("name", NAMES)
def test_corpus_model_bit_exact(corpus_dir: Path, name: str) -> None:
    """0 differing values on the output (random and real-looking inputs) and on every layer."""
    from firmware_bridge.engine import Engine

    tfl = (corpus_dir / f"{name}.tflite").read_bytes()
    vpw = tflite_to_vpw(tfl)
    size = int(np.prod(read_vpw(vpw).input_shape))
    rand = np.random.default_rng(7).integers(-128, 128, (24, size), dtype=np.int8)
    xs = np.concatenate([rand, _real_looking(vpw, 24, 3)])
    r = compare_with_reference(tfl, xs, vpw=vpw)
    assert r["differing"] == 0, r["first_bad_layer"]
    eng, it = Engine(vpw), reference_interpreter(tfl, preserve=True)
    din = it.get_input_details()[0]
    for x in xs[::8]:
        it.set_tensor(din["index"], x.reshape(din["shape"]))
        it.invoke()
        for op_index, tensor, ours in eng.run_layers(x):
            ref = it.get_tensor(tensor).ravel()
            assert np.array_equal(ref, ours), f"op {op_index} (tensor {tensor}) differs"
