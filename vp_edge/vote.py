"""Top-k voting: pure functions, no I/O.

A variant answers with its k best (class, score) pairs. The gateway scatters
each answer into a length-C vector, weights it, sums, and takes the argmax.

Tie rule (everywhere in vp-edge): among equal scores the **lowest class index
wins** -- for a variant's own top-k and for the fused argmax alike. Scores
compare as exact float64 values computed in a fixed order (voters sorted by
name), so the same answers give the same winner on every machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from firmware_bridge.protocol.topk import topk_indices  # the one top-k rule (docs/protocol.md §3)
from vp_edge.errors import VoteError

#: vote rules; see ``fuse``.
RULES = ("reference", "sum", "majority", "learned")

#: int8 softmax outputs of TFLite always use scale 1/256 and zero point -128.
SOFTMAX_SCALE = 1.0 / 256.0
SOFTMAX_ZERO_POINT = -128


@dataclass(frozen=True)
class TopK:
    """One variant's answer: classes best first, scores in [0, 1]."""

    variant: str
    classes: tuple[int, ...]
    scores: tuple[float, ...]


@dataclass(frozen=True)
class VoteResult:
    """The fused answer: winner, the fused score per class, who voted."""

    winner: int
    scores: tuple[float, ...]
    voters: tuple[str, ...]


def check_k(k: int, num_classes: int) -> int:
    """1 <= k <= C // 2: sending more than half the classes is no cheaper than all."""
    if not isinstance(k, int | np.integer) or not 1 <= k <= num_classes // 2:
        raise VoteError(
            f"k must be an integer in [1, {num_classes // 2}] for {num_classes} classes, got {k!r}"
        )
    return int(k)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (np.asarray(q, dtype=np.float64) - zero_point) * scale


def topk_from_int8(
    variant: str,
    q: np.ndarray,
    k: int,
    scale: float = SOFTMAX_SCALE,
    zero_point: int = SOFTMAX_ZERO_POINT,
) -> TopK:
    """A variant's answer from its int8 output vector (what every board runs)."""
    q = np.asarray(q).reshape(-1)
    idx = topk_indices(q, k)
    scores = dequantize(q[idx], scale, zero_point)
    return TopK(variant, tuple(int(i) for i in idx), tuple(float(s) for s in scores))


def _validate(answers: Sequence[TopK], num_classes: int) -> None:
    if not answers:
        raise VoteError("no variant answered: a vote needs at least one voter")
    names = [a.variant for a in answers]
    if len(set(names)) != len(names):
        raise VoteError(f"a variant may vote once per request, got {sorted(names)}")
    for a in answers:
        if len(a.classes) != len(a.scores) or not a.classes:
            raise VoteError(
                f"variant {a.variant}: classes and scores must be non-empty and equal length"
            )
        if len(set(a.classes)) != len(a.classes):
            raise VoteError(f"variant {a.variant}: repeated class in its top-k {a.classes}")
        if not all(0 <= c < num_classes for c in a.classes):
            raise VoteError(f"variant {a.variant}: class outside [0, {num_classes}) in {a.classes}")


def fuse(
    answers: Sequence[TopK],
    num_classes: int,
    rule: str = "reference",
    weights: Mapping[str, float] | None = None,
) -> VoteResult:
    """Fuse the answers of any non-empty subset of variants.

    Rules:
      reference -- scatter scores, multiply by weights[variant], sum (the VP rule;
                   pass ``Family.weights()`` for w = (r/max r)(alpha/0.35)^1.15).
      learned   -- the same with weights learnt from validation (``learn_weights``).
      sum       -- scatter scores, unweighted sum.
      majority  -- one vote per variant for its top-1 class.
    Missing variants simply drop out; weights are not renormalised.
    """
    if rule not in RULES:
        raise VoteError(f"unknown vote rule {rule!r}; known: {', '.join(RULES)}")
    _validate(answers, num_classes)
    if rule in ("reference", "learned") and weights is None:
        raise VoteError(f"rule {rule!r} needs per-variant weights")
    fused = np.zeros(num_classes, dtype=np.float64)
    for a in sorted(answers, key=lambda a: a.variant):
        if rule == "majority":
            best = min(range(len(a.classes)), key=lambda i: (-a.scores[i], a.classes[i]))
            fused[a.classes[best]] += 1.0
            continue
        w = 1.0 if rule == "sum" else _weight(weights, a.variant)
        fused[list(a.classes)] += w * np.asarray(a.scores, dtype=np.float64)
    winner = int(np.argmax(fused))  # argmax returns the first (lowest) index on ties
    voters = tuple(sorted(a.variant for a in answers))
    return VoteResult(winner, tuple(float(s) for s in fused), voters)


def _weight(weights: Mapping[str, float] | None, variant: str) -> float:
    assert weights is not None
    if variant not in weights:
        raise VoteError(
            f"no weight for variant {variant!r}; weights are given for {sorted(weights)}"
        )
    return float(weights[variant])


def learn_weights(accuracy: Mapping[str, float], sharpness: float = 4.0) -> dict[str, float]:
    """Weights from validation accuracy: w = (acc / max acc) ** sharpness.

    Monotone in accuracy, 1.0 for the best variant; a variant at chance level
    gets a small but non-zero weight so it still breaks ties among the others.
    """
    if not accuracy:
        raise VoteError("learn_weights needs at least one variant's validation accuracy")
    best = max(accuracy.values())
    if best <= 0:
        return {name: 1.0 for name in accuracy}
    return {name: float((acc / best) ** sharpness) for name, acc in accuracy.items()}


def fuse_batch(
    topk: Mapping[str, tuple[np.ndarray, np.ndarray]],
    num_classes: int,
    rule: str = "reference",
    weights: Mapping[str, float] | None = None,
) -> np.ndarray:
    """Vectorised ``fuse`` over a data set: the winner for every row.

    ``topk[name] = (classes[n, k], scores[n, k])`` as ``topk_from_int8`` gives
    them row by row. Gives exactly the winners ``fuse`` gives (same summation
    order: variants sorted by name), which the tests check.
    """
    if rule not in RULES:
        raise VoteError(f"unknown vote rule {rule!r}; known: {', '.join(RULES)}")
    if not topk:
        raise VoteError("no variant answered: a vote needs at least one voter")
    n = next(iter(topk.values()))[0].shape[0]
    fused = np.zeros((n, num_classes), dtype=np.float64)
    rows = np.arange(n)[:, None]
    for name in sorted(topk):
        classes, scores = topk[name]
        if rule == "majority":  # top-1 of each row: highest score, lowest class on ties
            best = scores.max(axis=1, keepdims=True)
            top1 = np.where(scores == best, classes, num_classes).min(axis=1)
            fused[np.arange(n), top1] += 1.0
            continue
        w = 1.0 if rule == "sum" else _weight(weights, name)
        contrib = np.zeros((n, num_classes), dtype=np.float64)
        contrib[rows, classes] = w * scores.astype(np.float64)
        fused += contrib
    return np.argmax(fused, axis=1)
