"""A run's packed ``.vpw`` files, written once next to each variant's ``.tflite``.

Here, below both users, so the boards that load a ``.vpw`` (``boards.emulators``) and the
offline evaluation that runs the C engine (``vp_edge.evaluate``) share one copy without a
circle between them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from converters.rundir import RunDir

GOLDEN_SEED = 0
VPW_TARGET = "cortex-m4"


def _current(path: Path) -> bool:
    """Whether a packed file is of this format version and layout (else it is packed again)."""
    from converters.errors import ConversionError
    from converters.vpw_format import read_vpw

    try:
        return read_vpw(path.read_bytes()).header["target_name"] == VPW_TARGET
    except (ConversionError, OSError):
        return False


def ensure_vpw(run: Path, variant: str) -> Path:
    """The variant's .vpw with a golden self-test section (firmware refuses one without it).

    Written once next to the .tflite (atomically), where the gateway's HELLO check looks for
    the hash a .vpw board announces.
    """
    rd = RunDir(run)
    tfl, path = rd.model(variant), rd.vpw(variant)
    if path.exists() and path.stat().st_mtime >= tfl.stat().st_mtime and _current(path):
        return path
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(board_vpw(tfl.read_bytes()))
    os.replace(tmp, path)
    return path


def board_vpw(tflite: bytes) -> bytes:
    """The ``.vpw`` boards run for a ``.tflite``: the MCU layout (the Cortex-M firmware refuses
    the generic one, host engines run both) with the golden self-test of ``GOLDEN_SEED``, as
    ``vp-edge pack --target cortex-m4`` writes it."""
    from converters.vpw import tflite_to_vpw
    from converters.vpw_format import read_vpw

    size = int(read_vpw(tflite_to_vpw(tflite)).header["in_size"])
    golden = np.random.default_rng(GOLDEN_SEED).integers(-128, 128, size, dtype=np.int8)
    return tflite_to_vpw(tflite, golden_input=golden, target=VPW_TARGET)
