"""The one preprocessing path shared by training, evaluation and serving.

A raw input is a uint8 image of the family's input shape. Training feeds
``to_float(x)`` (pixels / 255); every variant resizes inside its own graph, so
the resize used when serving is the one used in training by construction.
Serving quantizes the same float values with the variant's input scale and
zero point (``quantize``); offline evaluation calls the same function, so the
live gateway and ``vp-edge evaluate`` feed boards identical bytes.
"""

from __future__ import annotations

import numpy as np


def to_float(x: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [0, 1], the scale every model is trained on."""
    return np.asarray(x, dtype=np.float32) / np.float32(255.0)


def quantize(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """uint8 pixels -> the int8 input tensor of a variant: round(x / scale) + zp, saturated.

    Rounding is half away from zero, as TFLite's QUANTIZE kernel does.
    """
    f = to_float(x).astype(np.float64) / float(scale)
    q = np.sign(f) * np.floor(np.abs(f) + 0.5) + int(zero_point)
    return np.clip(q, -128, 127).astype(np.int8)
