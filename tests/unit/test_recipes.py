"""Distillation and diversity losses against hand computations; the recipe's schedule and name."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from vp_edge.errors import TrainingError
from vp_edge.recipes import describe, kd_lambda, member_loss_np, targets

# one image, three classes: student and teacher logits, label 0
Z_S = [2.0, 0.0, -1.0]
Z_T = [1.0, 1.0, -2.0]
T, LAM = 2.0, 0.25


def _hand() -> float:
    """(1 - lam) CE + lam T^2 KL(q_T || p_T), written out term by term."""
    es = [math.exp(z) for z in Z_S]
    ce = -math.log(es[0] / sum(es))
    qs = [math.exp(z / T) for z in Z_T]
    q = [e / sum(qs) for e in qs]
    ps = [math.exp(z / T) for z in Z_S]
    p = [e / sum(ps) for e in ps]
    kl = sum(qi * math.log(qi / pi) for qi, pi in zip(q, p, strict=True))
    return (1 - LAM) * ce + LAM * T * T * kl


def test_numpy_member_loss_equals_hand_computation():
    got = member_loss_np(np.array([0]), np.array([Z_S]), np.array([Z_T]), LAM, T)
    assert got[0] == pytest.approx(_hand(), rel=1e-12)
    # a bootstrap draw of 2 counts the image twice; no teacher leaves plain cross-entropy
    assert member_loss_np(np.array([0]), np.array([Z_S]), np.array([Z_T]), LAM, T, 2.0)[
        0
    ] == pytest.approx(2 * _hand())
    ce = -math.log(math.exp(2) / (math.exp(2) + 1 + math.exp(-1)))
    assert member_loss_np(np.array([0]), np.array([Z_S]), None, LAM, T)[0] == pytest.approx(ce)


@pytest.mark.tf
def test_keras_member_loss_and_pack_equal_hand_computation():
    pytest.importorskip("tensorflow")
    from vp_edge.recipes import keras_classes

    pack_cls, loss_cls, ncl_cls = keras_classes()
    p_s = np.exp(Z_S) / np.exp(Z_S).sum()
    p_t = np.exp(Z_T) / np.exp(Z_T).sum()
    pack = pack_cls(name="x_pack")
    pack.build(None)  # creates lam (0 until an epoch's start sets it)
    pack.lam.assign(LAM)
    packed = np.asarray(pack([np.array([p_s], np.float32), np.array([p_t], np.float32)]))
    assert packed.shape == (1, 7) and packed[0, -1] == pytest.approx(LAM)
    y = np.array([[0.0, 1.0]], np.float32)
    got = float(loss_cls(3, T, kd=True)(y, packed))
    assert got == pytest.approx(_hand(), rel=1e-5)
    # negative correlation: two members (0.8, 0.2) and (0.4, 0.6) around their mean (0.6, 0.4):
    # each is 0.2 away in both classes, spread = 4 * 0.04 = 0.16, divided by 2 members
    ncl = float(ncl_cls(2, 2)(np.zeros((1, 1)), np.array([[0.8, 0.2, 0.4, 0.6]], np.float32)))
    assert ncl == pytest.approx(-0.08, rel=1e-5)


def test_kd_schedule_ramps_from_zero_to_weight():
    assert [kd_lambda(0.6, "ramp", e, 3) for e in range(3)] == [0.0, 0.3, 0.6]
    assert kd_lambda(0.6, "constant", 0, 3) == 0.6
    assert kd_lambda(0.6, "ramp", 0, 1) == 0.6
    with pytest.raises(TrainingError, match="schedule"):
        kd_lambda(0.6, "cosine", 0, 3)


def test_member_targets_carry_label_and_seeded_draws():
    y = np.arange(10) % 3
    outs = ["a", "member_a", "member_b", "ensemble"]
    t1, t2 = targets(outs, y, seed=0), targets(outs, y, seed=0)
    assert t1["a"] is y and t1["ensemble"] is y
    assert np.array_equal(t1["member_a"][:, 0], y)
    assert np.array_equal(t1["member_a"], t2["member_a"])  # seeded: reproducible
    assert not np.array_equal(t1["member_a"][:, 1], t1["member_b"][:, 1])  # each its own draw
    assert np.all(targets(outs, y, seed=None)["member_b"][:, 1] == 1.0)


def test_describe_names_every_part_of_the_recipe():
    cfg = SimpleNamespace(
        ensemble_weight=1.0,
        teacher="baseline",
        kd_weight=0.5,
        kd_temperature=2.0,
        kd_schedule="ramp",
        ncl_weight=0.25,
        member_draws=True,
        augment=False,
    )
    assert describe(cfg) == "joint+ens(1)+kd(0.5,T=2,ramp)+ncl(0.25)+draws"


def test_demo_claims_name_the_recipe_that_ran():
    from experiments.demo import claims

    report = {
        "variants": [{"name": "a", "macs": 1, "params_ratio": 7.0, "macs_ratio": 9.0,
                      "int8_drop_points": 0.1}],
        "baseline": {"int8_accuracy": 0.80},
        "ensemble_default": 0.85,
        "best_single": 0.82,
        "recipe": "joint+ens(1)+kd(0.5,T=2,ramp)",
    }  # fmt: skip
    c = claims(report)
    assert c["recipe"] == "joint+ens(1)+kd(0.5,T=2,ramp)"
    assert c["ensemble_at_least_baseline"] and c["ensemble_beats_best_single"]
    assert c["within_paper_bounds"] and (c["fewest_params_ratio"], c["fewest_macs_ratio"]) == (7, 9)
    report["variants"].append(
        {"name": "b", "macs": 2, "params_ratio": 5.7, "macs_ratio": 9.0, "int8_drop_points": 0.1}
    )
    c = claims(report)  # one member over the paper's parameter bound is enough to fail
    assert not c["within_paper_bounds"] and c["fewest_params_ratio"] == 5.7
