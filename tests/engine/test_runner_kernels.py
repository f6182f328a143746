"""The Linux runner's ``kernels`` option: xnnpack (default), builtin, ref (offline evaluation's)."""

from __future__ import annotations

import numpy as np
import pytest

from boards.runners import make_runner
from vp_edge.errors import BoardError

pytestmark = [pytest.mark.tf, pytest.mark.slow]


def test_litert_runner_kernels(load) -> None:
    tfl = load("tiny:0")
    runners = {k: make_runner("litert", tfl, kernels=k) for k in ("ref", "builtin", "xnnpack")}
    xs = np.random.default_rng(0).integers(-128, 128, (8, *runners["ref"].input_shape), np.int8)
    for k, r in runners.items():
        assert r.kernels == k
        first = np.stack([r.run(x) for x in xs])
        assert np.array_equal(first, np.stack([r.run(x) for x in xs]))  # deterministic
        # each kernel set agrees with the reference to +-1 (rounding differs only in places)
        ref = np.stack([runners["ref"].run(x) for x in xs]).astype(int)
        assert np.abs(first.astype(int) - ref).max() <= 1
    assert make_runner("litert", tfl).kernels == "xnnpack"  # what a linux board serves with
    with pytest.raises(BoardError, match="unknown LiteRT kernels 'fast'"):
        make_runner("litert", tfl, kernels="fast")
