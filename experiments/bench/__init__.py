"""The vp-edge bench: costs, response times, communication, failures and gateway cost of a run.

``run_bench(BenchConfig(run=...))`` writes ``report.json``, ``report.md`` and PNG plots; every
number in them is a figure tagged measured, modelled or paper (``figures``).
"""

from experiments.bench.core import BUDGETS, BenchConfig, Budget, figure_kinds, run_bench
from experiments.bench.figures import KINDS, fig, untagged_numbers, value, walk_figs

__all__ = [
    "BUDGETS",
    "KINDS",
    "BenchConfig",
    "Budget",
    "fig",
    "figure_kinds",
    "run_bench",
    "untagged_numbers",
    "value",
    "walk_figs",
]
