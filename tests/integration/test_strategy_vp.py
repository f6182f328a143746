"""VP as a Strategy: strategy.json from a converted run; its plan votes as 'vp-edge evaluate'."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.tf]


def test_vp_plan_votes_as_evaluate(tiny_run, tmp_path):
    from boards.runners import LiteRtRunner
    from converters.card import read_card
    from vp_edge.convert import load_run_data
    from vp_edge.evaluate import DEFAULT_K, ensemble_winners
    from vp_edge.preprocess import quantize
    from vp_edge.strategies import load_strategy, run_offline
    from vp_edge.strategies.base import write_strategy
    from vp_edge.strategies.vp import describe
    from vp_edge.train import load_run_family

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("checkpoints", "outputs"))
    write_strategy(run, describe(run))
    s = load_strategy(run)
    family = load_run_family(run)
    assert [p.name for p in s.parts] == [v.name for v in family.variants]
    assert all(p.reply == "scores" and p.k == DEFAULT_K for p in s.parts)
    test = load_run_data(run, family).test.subset(24)
    cards = {p.name: read_card(run / "models" / f"{p.name}.json") for p in s.parts}
    outputs = {}
    for name, card in cards.items():
        r = LiteRtRunner((run / "models" / f"{name}.tflite").read_bytes(), kernels="ref")
        x = quantize(test.x, card["input_scale"], card["input_zero_point"])
        outputs[name] = np.stack([r.run(xi) for xi in x])
    want = ensemble_winners(
        outputs, cards, list(cards), DEFAULT_K, "reference", family.weights(), family.num_classes
    )
    got = run_offline(s, test.x)
    assert [o.label for o in got] == want.tolist()
    assert {o.status for o in got} == {"ok"}
    one = run_offline(s, test.x[:4], drop=(s.parts[0].name,))
    assert {o.status for o in one} == {"degraded"} and all(o.label is not None for o in one)
