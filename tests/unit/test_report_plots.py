"""The evaluation plots: tick labels that can be read."""

from __future__ import annotations

import pytest

from vp_edge.report import _plain_log_ticks, plot_evaluation


def _overlaps(ax) -> list[tuple[str, str]]:
    fig = ax.figure
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    boxes = [
        (t.get_text(), t.get_window_extent(r))
        for t in ax.xaxis.get_ticklabels(minor=False) + ax.xaxis.get_ticklabels(minor=True)
        if t.get_visible()
        and t.get_text()
        and ax.get_xlim()[0] <= t.get_position()[0] <= ax.get_xlim()[1]
    ]
    return [
        (a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1 :] if ba.overlaps(bb)
    ]


@pytest.mark.parametrize("lo, hi", [(1.7, 4.3), (1.7, 23.0), (0.35, 1.1), (0.3, 300.0)])
def test_macs_axis_labels_do_not_overlap(lo: float, hi: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([lo, hi], [80, 90])
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis)
    assert _overlaps(ax) == []
    labels = [t.get_text() for t in ax.xaxis.get_ticklabels() if t.get_text()]
    assert labels and all("times" not in s and "^" not in s for s in labels), labels
    plt.close(fig)


def test_plot_evaluation_writes_both_plots(tmp_path) -> None:
    variants = [
        {"name": f"a04_r{r}", "macs": m, "int8_accuracy": a}
        for r, m, a in (
            (24, 1_757_472, 0.86),
            (28, 1_968_464, 0.87),
            (32, 2_116_544, 0.88),
            (40, 4_194_768, 0.89),
        )
    ]
    r = {
        "family": "fashion",
        "k_default": 2,
        "variants": variants,
        "ensemble_default": 0.9,
        "boards_alive": [{"m": m, "mean": 0.85 + m / 100, "worst": 0.84} for m in (1, 2, 3, 4)],
        "baseline": {"macs": 22_000_000, "int8_accuracy": 0.9},
    }
    paths = plot_evaluation(r, tmp_path)
    assert [p.name for p in paths] == ["accuracy_vs_boards.png", "accuracy_vs_macs.png"]
    assert all(p.stat().st_size > 5_000 for p in paths)
