"""One evaluation as ``vp-edge evaluate`` runs it, callable from a script the same way: the
run's data loaded as trained, the offline vote over the test split, the plots, and
RUN/report/evaluate.json written (what the live gateway must reproduce)."""

from __future__ import annotations

import json
from pathlib import Path

from converters.rundir import RunDir


def evaluate_run(
    run: Path,
    k: int = 2,
    test_limit: int | None = None,
    engine_check: bool = False,
    plots: Path | None = None,
) -> dict:
    """Evaluate ``run`` (the first ``test_limit`` test images); the report, with split sizes,
    class names and the plots written (to ``plots``, default RUN/report), also saved as
    RUN/report/evaluate.json."""
    from vp_edge.convert import load_run_data
    from vp_edge.evaluate import evaluate
    from vp_edge.report import plot_evaluation
    from vp_edge.train import load_run_family

    family = load_run_family(run)
    splits = load_run_data(run, family)
    report = evaluate(
        run,
        splits.test.subset(test_limit),
        splits.val,
        k_default=k,
        check_engine=engine_check,
    )
    test = splits.test.subset(test_limit)
    report["splits"] = {"train": len(splits.train), "val": len(splits.val), "test": len(test)}
    report["class_names"] = list(splits.test.class_names)
    written = plot_evaluation(report, plots or RunDir(run).report_dir)
    report["plots"] = [str(p) for p in written]
    (RunDir(run).report_dir).mkdir(exist_ok=True)
    RunDir(run).report("evaluate.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
