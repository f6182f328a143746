"""The gateway-side rules of the strategies against hand-computed cases (no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from boards.staged import requantize
from vp_edge.strategies.base import Call, drive
from vp_edge.strategies.combine import argmax_or_none, merge_input, sensai_scores
from vp_edge.strategies.cp import CpStrategy, balanced_groups, group_targets
from vp_edge.strategies.disco import DiscoStrategy
from vp_edge.strategies.lcp import LcpStrategy
from vp_edge.strategies.mp import MpStrategy, choose_cuts

SOFTMAX = {"scale": 1 / 256, "zero_point": -128}
IMAGE_IN = {"shape": [2, 2, 1], "scale": 1 / 255, "zero_point": -128}


def _part(
    name: str, reply: str = "tensor", k: int = 0, out: dict | None = None, **extra: object
) -> dict:
    return {
        "name": name,
        "artefact": f"models/{name}.tflite",
        "reply": reply,
        "k": k,
        "stages": 1,
        "input": dict(IMAGE_IN),
        "output": out or dict(SOFTMAX),
        **extra,
    }


def test_requantize_rounds_half_away_and_saturates():
    q = np.array([1, -1, 3, 127, -128], np.int8)
    assert requantize(q, 1.0, 0, 2.0, 0).tolist() == [1, -1, 2, 64, -64]
    assert requantize(np.array([100, -100], np.int8), 1.0, 0, 0.5, 10).tolist() == [127, -128]


def test_sensai_rule_drops_rest_and_permutes_back():
    groups = [[0, 3], [1, 2, 4]]
    quant = [(1 / 256, -128)] * 2
    g0 = np.array([0, 64, -64], np.int8)  # rest 0.5, class 0: 0.75, class 3: 0.25
    g1 = np.array([-128, -96, 0, 96], np.int8)  # rest 0, classes 1, 2, 4: 0.125, 0.5, 0.875
    s = sensai_scores([g0, g1], groups, quant, 5)
    assert s.tolist() == [0.75, 0.125, 0.5, 0.25, 0.875]
    assert argmax_or_none(s) == 4
    s = sensai_scores([g0, None], groups, quant, 5)
    assert s[[1, 2, 4]].tolist() == [-np.inf] * 3 and argmax_or_none(s) == 0
    assert argmax_or_none(sensai_scores([None, None], groups, quant, 5)) is None


def test_cp_plan_missing_group_is_degraded_and_names_classes():
    doc = {
        "strategy": "cp",
        "class_names": list("ABCDE"),
        "groups": [[0, 3], [1, 2, 4]],
        "parts": [_part("cp0", "scores", 3), _part("cp1", "scores", 4)],
    }
    s = CpStrategy(Path("."), doc)
    g0 = np.array([0, 64, -64], np.int8)
    out = drive(s.plan(np.zeros((2, 2, 1), np.uint8)), lambda c: g0 if c.part == "cp0" else None)
    assert (out.label, out.status, out.missing) == (0, "degraded", ("cp1",))
    assert "B, C, E" in out.note
    out = drive(s.plan(np.zeros((2, 2, 1), np.uint8)), lambda c: None)
    assert (out.label, out.status) == (None, "failed")


def test_balanced_groups_are_balanced_and_similar_classes_together():
    means = np.array([[0.0], [10.0], [0.1], [10.1], [0.2], [10.2]])
    groups = balanced_groups(means, 2)
    assert groups == [[0, 2, 4], [1, 3, 5]]
    sizes = sorted(len(g) for g in balanced_groups(np.arange(10.0)[:, None], 3))
    assert sizes == [3, 3, 4]
    assert group_targets([1, 3], 4).tolist() == [0, 1, 0, 2]


def test_mp_chain_requantises_each_reply_for_the_next_part():
    out0 = {"shape": [3], "scale": 1.0, "zero_point": 0}
    in1 = {"shape": [3], "scale": 2.0, "zero_point": 0}
    doc = {
        "strategy": "mp",
        "class_names": ["x", "y", "z"],
        "parts": [_part("mp0", out=out0), {**_part("mp1"), "input": in1}],
    }
    s = MpStrategy(Path("."), doc)
    seen: list[Call] = []

    def answer(c: Call) -> np.ndarray:
        seen.append(c)
        return (
            np.array([1, -1, 3], np.int8) if c.part == "mp0" else np.array([-128, 0, 127], np.int8)
        )

    out = drive(s.plan(np.full((2, 2, 1), 255, np.uint8)), answer)
    assert seen[0].tensor.tolist() == [127] * 4  # 255/255 quantised with scale 1/255, zp -128
    assert seen[1].tensor.tolist() == [1, -1, 2]  # 0.5 -> 1, -0.5 -> -1, 1.5 -> 2
    assert (out.label, out.status) == (2, "ok")
    out = drive(
        s.plan(np.zeros((2, 2, 1), np.uint8)),
        lambda c: None if c.part == "mp1" else np.zeros(3, np.int8),
    )
    assert (out.label, out.status, out.missing) == (None, "failed", ("mp1",))


def test_choose_cuts_takes_the_smallest_boundaries_in_order():
    shapes = [(14, 14, 32), (7, 7, 24), (4, 4, 32), (2, 2, 64), (2, 2, 64), (1, 1, 320)]
    assert choose_cuts(shapes, 1) == [3]
    assert choose_cuts(shapes, 2) == [3, 4]


def test_merge_input_fills_a_missing_branch_with_the_merge_zero_point():
    senders = [
        {"size": 2, "scale": 0.5, "zero_point": -128},
        {"size": 3, "scale": 0.5, "zero_point": -128},
    ]
    merge_in = {"scale": 0.25, "zero_point": -100}
    x = merge_input([np.array([-128, -127], np.int8), None], senders, merge_in)
    assert x.tolist() == [-100, -98, -100, -100, -100]


class _Merge:
    def __init__(self) -> None:
        self.inputs: list[np.ndarray] = []

    def run(self, x: np.ndarray) -> np.ndarray:
        self.inputs.append(np.asarray(x).copy())
        return np.array([-128, 127], np.int8)


def _gateway(parts: list[dict], width: int) -> dict:
    return {
        "merge": {
            "artefact": "models/merge.tflite",
            "input": {"shape": [width], "scale": 0.5, "zero_point": -128},
            "output": dict(SOFTMAX, shape=[2]),
        }
    }


def test_lcp_missing_branch_is_degraded_and_zero_filled(monkeypatch):
    out = {"shape": [2], "scale": 0.5, "zero_point": -128}
    parts = [_part("lcp0", out=out), _part("lcp1", out=out)]
    doc = {
        "strategy": "lcp",
        "class_names": ["x", "y"],
        "parts": parts,
        "gateway": _gateway(parts, 4),
    }
    s = LcpStrategy(Path("."), doc)
    merge = _Merge()
    monkeypatch.setattr(s, "gateway_runner", lambda key: merge)
    res = drive(
        s.plan(np.zeros((2, 2, 1), np.uint8)),
        lambda c: np.array([-120, -100], np.int8) if c.part == "lcp0" else None,
    )
    assert merge.inputs[0].tolist() == [-120, -100, -128, -128]
    assert (res.label, res.status, res.missing) == (1, "degraded", ("lcp1",))


def test_disco_gateway_forwards_replies_unchanged_and_fills_a_dead_node(monkeypatch):
    def node(name: str) -> dict:
        replies = [
            {"size": 2, "scale": 0.1, "zero_point": -5},
            {"size": 3, "scale": 0.5, "zero_point": -128},
        ]
        return {
            **_part(name),
            "artefact": f"models/{name}.vpb",
            "stages": 2,
            "stage_replies": replies,
        }

    parts = [node("disco_a"), node("disco_b")]
    doc = {
        "strategy": "disco",
        "class_names": ["x", "y"],
        "parts": parts,
        "gateway": _gateway(parts, 6),
    }
    s = DiscoStrategy(Path("."), doc)
    merge = _Merge()
    monkeypatch.setattr(s, "gateway_runner", lambda key: merge)
    seen: list[Call] = []
    a0, b0 = np.array([7, 8], np.int8), np.array([9, 10], np.int8)

    def answer(c: Call) -> np.ndarray | None:
        seen.append(c)
        if c.stage == 0:
            return a0 if c.part == "disco_a" else b0
        return np.array([-128, -127, -126], np.int8) if c.part == "disco_a" else None

    res = drive(s.plan(np.zeros((2, 2, 1), np.uint8)), answer)
    stage1 = {c.part: c.tensor.tolist() for c in seen if c.stage == 1}
    assert stage1 == {"disco_a": [9, 10], "disco_b": [7, 8]}  # crossed, bytes unchanged
    assert merge.inputs[0].tolist() == [-128, -127, -126, -128, -128, -128]  # same scale
    assert (res.status, res.missing) == ("degraded", ("disco_b",))
    seen.clear()
    res = drive(
        s.plan(np.zeros((2, 2, 1), np.uint8)), lambda c: None if c.part == "disco_a" else answer(c)
    )
    assert [c.tensor.tolist() for c in seen if c.stage == 1] == [[-5, -5]]  # a's zero point


@pytest.mark.parametrize("bad", [{"strategy": "xx"}])
def test_unknown_strategy_is_refused(tmp_path, bad):
    import json

    from vp_edge.errors import ArtifactError
    from vp_edge.strategies import load_strategy

    (tmp_path / "strategy.json").write_text(json.dumps(bad))
    with pytest.raises(ArtifactError, match="unknown strategy"):
        load_strategy(tmp_path)


@pytest.mark.parametrize(
    "name,opts,message",
    [
        ("mp", {"keep": 0.5}, "--keep: not an option of --strategy mp"),
        ("mp", {"cuts": 4}, "give 1 to 3 cuts"),
        ("cp", {"groups": 11}, "give 2 to 10 groups"),
        ("lcp", {"branches": 1}, "give 2 to 16 branches"),
        ("disco", {"keep": 1.5}, "fraction in"),
        ("vp", {}, "trainable strategies are"),
    ],
)
def test_bad_strategy_options_are_one_line_usage_errors(name, opts, message):
    from vp_edge.errors import UsageError
    from vp_edge.family import load_family
    from vp_edge.strategies.build import strategy_options

    with pytest.raises(UsageError, match=message):
        strategy_options(name, load_family("tiny"), **opts)


def test_strategy_defaults():
    from vp_edge.family import load_family
    from vp_edge.strategies.build import strategy_options

    tiny = load_family("tiny")
    assert strategy_options("mp", tiny) == {"cuts": 1}
    assert strategy_options("cp", tiny) == {"groups": 2}
    assert strategy_options("lcp", tiny)["branches"] == 4
    assert strategy_options("disco", tiny)["keep"] == 0.25
