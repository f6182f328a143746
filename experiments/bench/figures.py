"""Tagged figures: every number in a bench report says whether it was measured or modelled.

A figure is a plain dict ``{"value", "unit", "kind", "how"}``. ``kind`` is one of ``KINDS``:
*measured* (timed, counted or evaluated on this machine from the artefacts), *modelled*
(computed from measured inputs and stated assumptions, e.g. link time from a baud rate) or
*paper* (quoted from the VP paper's abstract, for comparison). Parameters of the bench itself
(k, N, rates, seeds, variant shapes) live under keys listed in ``PARAM_KEYS`` and are not
figures; ``untagged_numbers`` finds any other bare number so tests can forbid them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vp_edge.timing import median_time  # noqa: F401 - re-exported for the bench sections

KINDS = ("measured", "modelled", "paper")
#: dict keys whose subtrees are settings or descriptions, not results
PARAM_KEYS = frozenset(
    {
        "config",
        "machine",
        "git",
        "assumptions",
        "shape",
        "params_of_run",
        "variant",
        "family",
        "p_grid",
        "notes",
        "m",
        "index",
        "op_index",
        "ops",
    }
)


def fig(value: float | int | None, kind: str, unit: str = "", how: str = "") -> dict:
    """One tagged figure; ``how`` says in a few words where it comes from."""
    if kind not in KINDS:
        raise ValueError(f"figure kind must be one of {KINDS}, got {kind!r}")
    if isinstance(value, float):
        value = float(f"{value:.6g}")
    return {"value": value, "unit": unit, "kind": kind, "how": how}


def fig_range(xs: list[float], kind: str, how: str) -> dict | None:
    """{"low", "high"} figures over ``xs`` (None when there is nothing to range over)."""
    if not xs:
        return None
    return {"low": fig(min(xs), kind, "x", how), "high": fig(max(xs), kind, "x", how)}


def is_fig(d: Any) -> bool:
    return isinstance(d, dict) and set(d) == {"value", "unit", "kind", "how"}


def value(d: Any) -> Any:
    """The value of a figure (or the thing itself when it is not one)."""
    return d["value"] if is_fig(d) else d


def walk_figs(obj: Any, path: str = "") -> Iterator[tuple[str, dict]]:
    """Every figure in a report with its JSON path."""
    if is_fig(obj):
        yield path, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from walk_figs(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from walk_figs(v, f"{path}[{i}]")


def untagged_numbers(obj: Any, path: str = "") -> list[str]:
    """JSON paths of numbers that are neither inside a figure nor under a parameter key."""
    if is_fig(obj) or isinstance(obj, bool):
        return []
    if isinstance(obj, int | float):
        return [path]
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k not in PARAM_KEYS:
                out += untagged_numbers(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += untagged_numbers(v, f"{path}[{i}]")
    return out
