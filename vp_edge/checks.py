"""Range checks for numbers users give: one wording for the CLI, deployment files and the library.

``number_problem`` says what is wrong with a value (or ``None``); callers wrap the text in their
own error type (argparse's ``ArgumentTypeError``, ``DeploymentError``), so every command refuses
NaN, infinities, zero repeats or absurd deadlines the same way.
"""

from __future__ import annotations

import math


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
