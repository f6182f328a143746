"""Untrained candidate variants made real: Keras model -> full-int8 .tflite -> packed .vpw.

Bytes, arenas and instruction counts depend on shapes only, so a candidate with random weights of
a trained model's kind (vp_edge.costs.like_trained) costs what its trained twin will. The
planner's cost models are fitted on such candidates (``experiments/plan_calibrate.py``), and
``experiments/plan_check.py`` makes the planned ones real to compare prediction and measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from converters.vpw_run import VPW_TARGET
from vp_edge.family import Family, Variant


@dataclass(frozen=True)
class Artefacts:
    """One untrained candidate, converted and packed."""

    tflite: bytes
    vpw_generic: bytes
    vpw_arm: bytes
    arena_engine: int  # the packer's planned arena (C engine, firmware)


def raw_inputs(family: Family, n: int, seed: int = 0) -> np.ndarray:
    """``n`` random uint8 images of the family's input shape (calibration, golden input)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, *family.input_shape), dtype=np.uint8)


def convert_candidate(family: Family, v: Variant, seed: int = 0) -> Artefacts:
    """Build ``v`` with seeded random weights, convert to full int8 and pack both layouts."""
    from converters.vpw import read_vpw, tflite_to_vpw
    from vp_edge.costs import untrained_int8
    from vp_edge.preprocess import to_float

    x = to_float(raw_inputs(family, 8, seed))
    _, tfl = untrained_int8(family, v, x, seed, spread_logits=True)
    generic = tflite_to_vpw(tfl)
    arm = tflite_to_vpw(tfl, target=VPW_TARGET)  # the layout boards run
    arena = int(read_vpw(arm).header["arena_size"])
    return Artefacts(tfl, generic, arm, arena)
