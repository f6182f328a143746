"""One conversion as ``vp-edge convert`` runs it, callable from a script the same way: a VP run's
variants or a strategy run's parts, then strategy.json. Apart from ``vp_edge.convert`` because
the strategies' conversion itself uses that module."""

from __future__ import annotations

from pathlib import Path


def convert_any(
    run: Path, calibration: int = 200, test_limit: int | None = None, show: bool = True
) -> tuple[str, dict]:
    """``vp-edge convert``: a run trained with --strategy gets every part and its merge model
    ("strategy", the strategy document); a VP run gets its variants' cards ("vp", cards by
    name). Either way strategy.json is written, what ``load_strategy`` reads."""
    from vp_edge.strategies.base import write_strategy
    from vp_edge.strategies.build import convert_strategy, run_strategy_name
    from vp_edge.strategies.vp import describe

    if run_strategy_name(run) != "vp":
        return "strategy", convert_strategy(run, calibration, show=show)
    from vp_edge.convert import convert_run

    cards = convert_run(run, calibration, test_limit, show=show)
    write_strategy(run, describe(run))
    return "vp", cards
