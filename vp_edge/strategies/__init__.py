"""Ways to spread one inference over boards: vp, mp, cp, lcp, disco (docs/strategies.md).

``load_strategy(run)`` gives a run's Strategy (parts and plan); ``run_offline`` drives plans
with the runners boards use; ``train_strategy``/``convert_strategy`` (vp_edge.strategies.build)
make the parts; ``strategy_figures`` (vp_edge.strategies.figures) measures them.
"""

from vp_edge.strategies.base import (
    NAMES,
    Call,
    Outcome,
    PartInfo,
    Strategy,
    load_strategy,
    run_offline,
)

__all__ = ["NAMES", "Call", "Outcome", "PartInfo", "Strategy", "load_strategy", "run_offline"]
