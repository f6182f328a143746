"""Voting properties: the rule every live answer must follow."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vp_edge.errors import VoteError
from vp_edge.family import PRESETS
from vp_edge.vote import (
    RULES,
    TopK,
    check_k,
    fuse,
    fuse_batch,
    learn_weights,
    topk_from_int8,
    topk_indices,
)

C = 10
W = {"a": 1.0, "b": 0.5, "c": 2.0}


def answer(name: str, classes, scores) -> TopK:
    return TopK(name, tuple(classes), tuple(scores))


@st.composite
def answers(draw, names=("a", "b", "c")):
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
    out = []
    for n in chosen:
        k = draw(st.integers(1, C // 2))
        classes = draw(st.lists(st.integers(0, C - 1), min_size=k, max_size=k, unique=True))
        q = draw(st.lists(st.integers(0, 255), min_size=k, max_size=k))
        out.append(answer(n, classes, sorted((v / 256 for v in q), reverse=True)))
    return out


@given(st.lists(st.integers(-128, 127), min_size=C, max_size=C), st.integers(1, C // 2))
def test_single_voter_winner_is_its_top1(q, k):
    a = topk_from_int8("a", np.array(q, dtype=np.int8), k)
    for rule in RULES:
        r = fuse([a], C, rule, W)
        assert r.winner == int(np.argmax(q))  # argmax: first (lowest) index on ties
        assert r.voters == ("a",)


@settings(max_examples=200)
@given(answers())
def test_zero_weight_voter_changes_nothing(ans):
    extra = answer("z", [3, 7], [0.9, 0.1])
    weights = dict(W, z=0.0)
    for rule in ("reference", "learned"):
        base = fuse(ans, C, rule, weights)
        with_zero = fuse([*ans, extra], C, rule, weights)
        assert with_zero.winner == base.winner
        assert with_zero.scores == base.scores
        assert "z" in with_zero.voters


@settings(max_examples=200)
@given(answers())
def test_fuse_batch_matches_fuse(ans):
    k = min(len(a.classes) for a in ans)
    ans = [answer(a.variant, a.classes[:k], a.scores[:k]) for a in ans]
    topk = {a.variant: (np.array([a.classes]), np.array([a.scores])) for a in ans}
    for rule in RULES:
        assert fuse_batch(topk, C, rule, W)[0] == fuse(ans, C, rule, W).winner


def test_subset_and_order_do_not_matter_for_result():
    a = answer("a", [1, 2], [0.6, 0.3])
    b = answer("b", [2, 1], [0.7, 0.2])
    assert fuse([a, b], C, "sum").scores == fuse([b, a], C, "sum").scores
    assert fuse([a], C, "sum").voters == ("a",)
    assert fuse([b, a], C, "sum").voters == ("a", "b")


def test_ties_break_to_lowest_class():
    a = answer("a", [7, 3], [0.5, 0.25])
    b = answer("b", [3, 7], [0.5, 0.25])
    r = fuse([a, b], C, "sum")
    assert r.scores[3] == r.scores[7] and r.winner == 3
    assert topk_indices(np.array([1, 5, 5, 2, 5], dtype=np.int8), 3).tolist() == [1, 2, 4]
    m = fuse([answer("a", [9], [0.5]), answer("b", [4], [0.5])], C, "majority")
    assert m.winner == 4


def test_classes_outside_every_topk_score_zero():
    r = fuse([answer("a", [1, 2], [0.6, 0.3])], C, "reference", W)
    assert [s for i, s in enumerate(r.scores) if i not in (1, 2)] == [0.0] * (C - 2)


def test_reference_weights_follow_the_paper_formula():
    fam = PRESETS["fashion"]
    w = fam.weights()
    v = fam.variants[0]
    assert w[v.name] == pytest.approx(
        (v.resolution / fam.max_resolution) * (v.alpha / 0.35) ** 1.15
    )
    assert w[fam.variants[-1].name] == pytest.approx((v.alpha / 0.35) ** 1.15)  # all one alpha


@pytest.mark.parametrize("k", [0, -1, 6, 11, 2.0, "2"])
def test_k_bounds(k):
    with pytest.raises(VoteError, match="k must be an integer"):
        check_k(k, C)


def test_k_in_range_accepted():
    assert [check_k(k, C) for k in range(1, 6)] == [1, 2, 3, 4, 5]


def test_bad_votes_are_refused():
    with pytest.raises(VoteError, match="no variant answered"):
        fuse([], C, "sum")
    with pytest.raises(VoteError, match="unknown vote rule"):
        fuse([answer("a", [1], [1.0])], C, "median")
    with pytest.raises(VoteError, match="once per request"):
        fuse([answer("a", [1], [1.0]), answer("a", [2], [1.0])], C, "sum")
    with pytest.raises(VoteError, match="outside"):
        fuse([answer("a", [10], [1.0])], C, "sum")
    with pytest.raises(VoteError, match="repeated class"):
        fuse([answer("a", [1, 1], [0.5, 0.5])], C, "sum")
    with pytest.raises(VoteError, match="needs per-variant weights"):
        fuse([answer("a", [1], [1.0])], C, "reference")
    with pytest.raises(VoteError, match="no weight for variant"):
        fuse([answer("x", [1], [1.0])], C, "reference", W)


def test_learned_weights_are_monotone_in_accuracy():
    w = learn_weights({"a": 0.9, "b": 0.8, "c": 0.1})
    assert w["a"] == 1.0 and w["a"] > w["b"] > w["c"] > 0
    with pytest.raises(VoteError):
        learn_weights({})


def test_topk_from_int8_dequantizes_softmax_scores():
    q = np.full(C, -128, dtype=np.int8)
    q[4], q[2] = 127, 0
    a = topk_from_int8("a", q, 2)
    assert a.classes == (4, 2)
    assert a.scores == (255 / 256, 128 / 256)


def test_error_agreement_counts_shared_errors():
    import numpy as np

    from vp_edge.evaluate import error_agreement

    a = np.array([1, 1, 0, 0, 1, 0, 0, 0], dtype=bool)
    b = np.array([1, 0, 1, 0, 1, 0, 0, 0], dtype=bool)
    r = error_agreement({"a": a, "b": b})
    assert r["error_rates"] == {"a": 3 / 8, "b": 3 / 8}
    assert r["all_wrong"] == 2 / 8
    assert r["all_wrong_if_independent"] == 9 / 64
    assert r["pairs"] == {"a|b": 2 / 3, "b|a": 2 / 3}
    none = error_agreement({"a": np.zeros(4, bool), "b": np.ones(4, bool)})
    assert none["all_wrong"] == 0 and none["pairs"]["a|b"] == 0.0


def test_paired_comparison_counts_disagreements_and_tests_them_exactly():
    import numpy as np

    from vp_edge.evaluate import paired_comparison

    # 10 inputs only A gets right, 2 only B, 8 both, 5 neither
    a = np.array([1] * 10 + [0] * 2 + [1] * 8 + [0] * 5, dtype=bool)
    b = np.array([0] * 10 + [1] * 2 + [1] * 8 + [0] * 5, dtype=bool)
    r = paired_comparison(a, b)
    assert (r["inputs"], r["a_only"], r["b_only"]) == (25, 10, 2)
    assert r["difference_points"] == pytest.approx(100 * 8 / 25)
    # exact two-sided binomial tail: 2 * (C(12,0) + C(12,1) + C(12,2)) / 2**12
    assert r["mcnemar_p"] == pytest.approx(2 * (1 + 12 + 66) / 4096)
    lo, hi = r["ci95_points"]
    assert lo < r["difference_points"] < hi
    # symmetric: B against A flips the sign, keeps p
    s = paired_comparison(b, a)
    assert s["difference_points"] == pytest.approx(-r["difference_points"])
    assert s["mcnemar_p"] == r["mcnemar_p"]
    same = paired_comparison(a, a)
    assert same["mcnemar_p"] == 1.0 and same["ci95_points"] == [0.0, 0.0]
    with pytest.raises(ValueError, match="equal-length"):
        paired_comparison(a, b[:3])
