"""One RTL simulation as ``vp-edge overlay run`` runs it, callable from a script the same way:
the inputs chosen (Fashion-MNIST test images quantised as the model's input, or random int8),
the Verilated overlay run against the C engine, and the exit code it earns.

Exit codes: 0 the RTL agrees with the engine on every value, 4 it differs somewhere
(``overlay_exit_code``), 2 a model the overlay or the image choice refuses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def fashion_inputs(shape: tuple[int, ...], n: int, scale: float, zp: int) -> np.ndarray:
    """Fashion-MNIST test images quantised with the model's input scale and zero point."""
    from vp_edge.data import FASHION_MNIST_DIR, read_idx
    from vp_edge.errors import UsageError

    if tuple(shape) != (28, 28, 1):
        raise UsageError(f"the model takes {shape}, not Fashion-MNIST's 28x28x1: use --random")
    imgs = read_idx(Path(FASHION_MNIST_DIR) / "t10k-images-idx3-ubyte.gz")[:n]
    q = np.round(imgs.astype(np.float64) / 255.0 / scale) + zp
    return np.clip(q, -128, 127).astype(np.int8).reshape(n, *shape)


def overlay_inputs(header: dict, shape: tuple[int, ...], n: int, random: bool) -> np.ndarray:
    """``n`` int8 inputs of ``shape``: random from seed 0, or test images quantised as the
    model's header says (``in_scale``, ``in_zp``)."""
    if random:
        return np.random.default_rng(0).integers(-128, 128, (n, *shape), dtype=np.int8)
    return fashion_inputs(shape, n, float(header["in_scale"]), int(header["in_zp"]))


def simulate_overlay(model: Path, images: int, random: bool = False, layers: int = 0) -> dict:
    """Run ``model`` (.vpw) on the Verilated RTL and the C engine; ``fpga.bench``'s report with
    the model's path."""
    from converters.vpw import read_vpw
    from fpga.bench import evaluate

    blob = model.read_bytes()
    vpw = read_vpw(blob)
    xs = overlay_inputs(vpw.header, vpw.input_shape[1:], images, random)
    rep = evaluate(blob, xs, layers=layers)
    rep["model"] = str(model)
    return rep


def overlay_exit_code(rep: dict) -> int:
    """4 when the RTL differs from the engine on any value (outputs or checked layers), else 0."""
    return 4 if rep["differing"] + rep["layer_differing"] else 0
