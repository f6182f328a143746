"""Range checks for numbers users give: one wording for the CLI, deployment files and the library.

``number_problem`` says what is wrong with a value (or ``None``); callers wrap the text in their
own error type (argparse's ``ArgumentTypeError``, ``DeploymentError``), so every command refuses
NaN, infinities, zero repeats or absurd deadlines the same way. ``make_dir`` and ``read_model``
refuse an output folder or a model file the same way for every command and for scripts.
"""

from __future__ import annotations

import math
from pathlib import Path


def number_problem(
    value: float,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
) -> str | None:
    """Why ``value`` is not a finite number in [low, high] ((low, high] when ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, got {value!r}"
    if not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if low is not None and (value <= low if low_open else value < low):
        return f"must be {'>' if low_open else '>='} {_show(low)}, got {_show(value)}"
    if high is not None and value > high:
        return f"must be <= {_show(high)}, got {_show(value)}"
    return None


def _show(v: float) -> str:
    """Integers without a trailing .0, others as Python shortest repr (e.g. 1e+12)."""
    return str(int(v)) if isinstance(v, float) and v.is_integer() and abs(v) < 1e9 else str(v)


def make_dir(path: Path, option: str) -> Path:
    """Create an output folder the user named, or refuse in one line (exit 2) naming why."""
    from vp_edge.errors import UsageError

    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path} is a file, not a folder; name a new or existing folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{option} {path}: cannot create the folder: {e.strerror}") from None
    return path


#: leading bytes of files people pass by mistake -> what they are
_LOOKALIKES = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8": "a JPEG image",
    b"PK": "a zip archive (a .keras model?)",
    b"\x89HDF": "an HDF5 file (Keras weights?)",
}


def read_model(
    path: str | Path, option: str = "model", kinds: tuple[str, ...] = ("tflite", "vpw")
) -> tuple[str, bytes]:
    """Read a model file and say which kind it is ("tflite" or "vpw") by its bytes, not its
    name; anything else is refused in one line (exit 2) naming what it looks like."""
    from firmware_bridge.files import MODEL_FILE_MAX, read_limited
    from vp_edge.errors import UsageError

    try:
        data = read_limited(path, MODEL_FILE_MAX, f"{option} {path}")
    except OSError as e:
        raise UsageError(f"{option} {path}: cannot read: {e.strerror}") from None
    kind = "tflite" if data[4:8] == b"TFL3" else "vpw" if data.startswith(b"VPW1") else None
    if kind in kinds:
        return kind, data
    looks = next(
        (what for magic, what in _LOOKALIKES.items() if data.startswith(magic)),
        f"a .{kind} model" if kind else "",
    )
    wanted = " or ".join(f".{k}" for k in kinds)
    what = (
        f"is {looks}, not a {wanted} model"
        if looks
        else f"is not a {wanted} model (no TFL3 or VPW1 identifier)"
    )
    raise UsageError(
        f"{option} {path} {what}: give a model from 'vp-edge convert' "
        "(RUN/models/VARIANT.tflite)" + (" or 'vp-edge pack' (.vpw)" if "vpw" in kinds else "")
    )
