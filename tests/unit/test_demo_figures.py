"""The demo's figures in docs/results.md are what the kept summary renders (no typed numbers)."""

from __future__ import annotations

import json

from experiments import demo_figures


def test_results_block_is_the_kept_summary_rendered() -> None:
    summary = json.loads(demo_figures.SUMMARY.read_text())
    block = demo_figures._block(demo_figures.DOC.read_text())
    assert block == demo_figures.render(summary)


def test_a_moved_figure_is_reported_as_drift(tmp_path, capsys) -> None:
    summary = json.loads(demo_figures.SUMMARY.read_text())
    summary["evaluation"]["variants"][0]["int8_accuracy"] += 0.0001
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    assert demo_figures.main([str(path)]) == 1
    assert "differ" in capsys.readouterr().out
    path.write_text(demo_figures.SUMMARY.read_text())
    assert demo_figures.main([str(path)]) == 0
