"""The .vpb bundle and StagedRunner: round trip, the exchanged channels, per-request state."""

from __future__ import annotations

import numpy as np
import pytest

from boards.errors import BoardError
from boards.runners import RUNNERS, LiteRtRunner
from boards.staged import StagedRunner, read_vpb, requantize, write_vpb

pytestmark = pytest.mark.tf

REPLY0 = [0, 2]  # of stage 0's three output channels, the other node reads these
RECEIVED = 2


@pytest.fixture(scope="module")
def stages() -> list[tuple[dict, bytes]]:
    """Stage 0: 4x4x1 image -> 4x4x3; stage 1: [own 3, received 2] -> pooled 2."""
    pytest.importorskip("tensorflow")
    from converters.tflite import to_int8_tflite
    from vp_edge.models import _keras
    from vp_edge.strategies.parts import io_of

    k = _keras()
    k.utils.set_random_seed(1)
    s0 = k.Sequential([k.Input((4, 4, 1)), k.layers.Conv2D(3, 1), k.layers.ReLU()])
    s1 = k.Sequential(
        [k.Input((4, 4, 3 + RECEIVED)), k.layers.Conv2D(2, 1), k.layers.GlobalAveragePooling2D()]
    )
    rng = np.random.default_rng(0)
    t0 = to_int8_tflite(s0, rng.random((16, 4, 4, 1), np.float32), "s0")
    t1 = to_int8_tflite(s1, rng.random((16, 4, 4, 5), np.float32) * 2, "s1")
    io0, io1 = io_of(t0), io_of(t1)
    recv = {"channels": RECEIVED, "scale": 0.03, "zero_point": -20}
    return [
        ({"own": None, "received": None, **io0, "reply": REPLY0}, t0),
        ({"own": {"channels": 3}, "received": recv, **io1, "reply": None}, t1),
    ]


def test_bundle_round_trip_is_deterministic(stages):
    data = write_vpb(stages)
    assert data == write_vpb(stages)
    bundle = read_vpb(data)
    assert bundle.stages == tuple(t for _, t in stages)
    assert [s["file"] for s in bundle.manifest["stages"]] == ["stage0.tflite", "stage1.tflite"]
    assert bundle.manifest["stages"][0]["reply"] == REPLY0
    with pytest.raises(BoardError, match="zip signature"):
        read_vpb(stages[0][1])
    assert RUNNERS["staged"] is StagedRunner


def test_stages_exchange_exactly_the_selected_channels_per_key(stages):
    r = StagedRunner(write_vpb(stages), kernels="ref", cache_size=2)
    assert (r.stages, r.stage_input_bytes(0), r.stage_input_bytes(1)) == (2, 16, 16 * RECEIVED)
    s0 = LiteRtRunner(stages[0][1], kernels="ref")
    s1 = LiteRtRunner(stages[1][1], kernels="ref")
    rng = np.random.default_rng(3)
    images = {key: rng.integers(-128, 128, 16, dtype=np.int8) for key in (7, 8)}
    received = {key: rng.integers(-128, 128, 16 * RECEIVED, dtype=np.int8) for key in (7, 8)}
    replies = {key: r.run_stage(key, 0, images[key]) for key in (7, 8)}
    for key in (7, 8):  # the reply is exactly channels 0 and 2 of stage 0's output
        full = s0.run(images[key]).reshape(4, 4, 3)
        assert np.array_equal(replies[key], full[..., REPLY0].reshape(-1))
    assert r.cached_keys() == (7, 8)
    e0, e1 = stages[0][0], stages[1][0]
    for key in (8, 7):  # other order than stage 0: each key has its own state
        own = s0.run(images[key]).reshape(4, 4, 3)
        inp = e1["input"]
        a = requantize(
            own, e0["output"]["scale"], e0["output"]["zero_point"], inp["scale"], inp["zero_point"]
        )
        b = requantize(
            received[key].reshape(4, 4, RECEIVED), 0.03, -20, inp["scale"], inp["zero_point"]
        )
        want = s1.run(np.concatenate([a, b], axis=-1).reshape(-1))
        assert np.array_equal(r.run_stage(key, 1, received[key]), want)
    assert r.cached_keys() == ()  # the last stage drops the key
    with pytest.raises(BoardError, match="no stage 0 activation"):
        r.run_stage(7, 1, received[7])
    with pytest.raises(BoardError, match="takes 32 bytes"):
        r.run_stage(7, 1, received[7][:5])
    for key in (1, 2, 3):
        r.run_stage(key, 0, images[7])
    assert r.cached_keys() == (2, 3)  # bounded: the oldest evicted
