"""``vp-edge evaluate``'s assembly at the library level (the vote itself is test_vote's): split
sizes, class names, plots folder and RUN/report/evaluate.json, with the heavy parts replaced."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

import vp_edge.convert as convert
import vp_edge.evaluate as evaluate
import vp_edge.report as report
import vp_edge.train as train
from vp_edge.evaluate_run import evaluate_run


class Split(list):
    class_names = ("a", "b")

    def subset(self, n: int | None) -> Split:
        return Split(self[:n])


def test_report_assembled_and_saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    splits = SimpleNamespace(train=Split(range(6)), val=Split(range(3)), test=Split(range(5)))
    seen: dict = {}
    monkeypatch.setattr(train, "load_run_family", lambda run: "fam")
    monkeypatch.setattr(convert, "load_run_data", lambda run, fam: splits)

    def fake_evaluate(run, test, val, k_default, check_engine):  # type: ignore[no-untyped-def]
        seen.update(test=len(test), k=k_default, engine=check_engine)
        return {"accuracy": 0.5}

    monkeypatch.setattr(evaluate, "evaluate", fake_evaluate)
    monkeypatch.setattr(report, "plot_evaluation", lambda rep, d: [d / "p.png"])
    rep = evaluate_run(tmp_path, k=3, test_limit=4, engine_check=True)
    assert seen == {"test": 4, "k": 3, "engine": True}
    assert rep["splits"] == {"train": 6, "val": 3, "test": 4}
    assert rep["class_names"] == ["a", "b"]
    assert rep["plots"] == [str(tmp_path / "report" / "p.png")]
    assert json.loads((tmp_path / "report" / "evaluate.json").read_text()) == rep
