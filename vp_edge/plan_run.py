"""One plan as ``vp-edge plan`` makes it, callable from a script the same way: the fleet file
read, the values given on the command line put over the file's, the plan searched and written
(family.json, deploy.toml)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any


def plan_fleet(
    fleet_file: Path,
    out: Path,
    run: str = "runs/planned",
    bounds: bool = True,
    **overrides: Any,
) -> tuple[Any, dict]:
    """The plan for ``fleet_file`` with ``overrides`` (input_shape, num_classes, deadline_ms,
    min_boards, headroom; None keeps the file's) and the files written; a fleet nothing fits
    is refused (``vp_edge.plan``'s error, exit 2)."""
    from vp_edge.plan import make_plan, write_plan
    from vp_edge.plan.fleet import load_fleet

    fleet = replace(load_fleet(fleet_file), **{k: v for k, v in overrides.items() if v is not None})
    plan = make_plan(fleet, bounds=bounds)
    paths = write_plan(plan, out, run)
    return plan, plan.to_dict() | {"written": {k: str(v) for k, v in paths.items()}}
