"""The engine's two halves a PYNQ board's PS runs around the overlay: any head of the network
followed by the rest of it gives the whole network's output, value for value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from converters.vpw import read_vpw
from firmware_bridge.engine import Engine, EngineError

TINY = Path(__file__).parents[1] / "pynq" / "data" / "tiny.vpw"


def test_head_then_tail_equals_the_whole_run() -> None:
    blob = TINY.read_bytes()
    eng, layers = Engine(blob), read_vpw(blob).layers
    x = np.random.default_rng(1).integers(-128, 128, (8, 8, 2), dtype=np.int8)
    whole = eng.run(x)
    for k in range(1, len(layers)):
        mid = eng.run_head(x, k)
        np.testing.assert_array_equal(eng.run_tail(k, layers[k - 1]["out"], mid), whole)


def test_bad_split_points_are_refused() -> None:
    eng = Engine(TINY.read_bytes())
    with pytest.raises(EngineError, match="bad head"):
        eng.run_head(np.zeros((8, 8, 2), np.int8), 0)
    with pytest.raises(EngineError, match="bad tail"):
        eng.run_tail(1, 10**6, np.zeros(4, np.int8))
