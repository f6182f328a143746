"""Gateway-side rules, pure numpy: what the gateway does with the parts' int8 replies.

- ``sensai_scores``: class parallelism (sensAI): dequantise each group's "group vs rest"
  probabilities, drop column 0 ("rest"), place each group's columns at its classes; the
  classes of a missing group score -inf.
- ``requantize`` (boards.staged): one part's int8 output as the next part's int8 input.
- ``merge_input``: LCP / DISCO: the concatenated feature vectors requantised to the merge
  model's input; a missing sender's features are its dequantised zero (the value a silent
  branch after ReLU would give), i.e. the merge's own zero point.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from boards.staged import requantize

__all__ = ["argmax_or_none", "dequantize", "merge_input", "requantize", "sensai_scores"]


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (np.asarray(q, np.float64).reshape(-1) - int(zero_point)) * float(scale)


def sensai_scores(
    replies: Sequence[np.ndarray | None],
    groups: Sequence[Sequence[int]],
    quant: Sequence[tuple[float, int]],
    num_classes: int,
) -> np.ndarray:
    """The full-class scores of the sensAI rule; classes of missing groups are -inf.

    ``replies[g]``: group g's int8 output of ``len(groups[g]) + 1`` values, column 0 = rest;
    ``quant[g]``: its output (scale, zero point).
    """
    scores = np.full(num_classes, -np.inf)
    for reply, classes, (scale, zp) in zip(replies, groups, quant, strict=True):
        if reply is None:
            continue
        p = dequantize(reply, scale, zp)
        if p.size != len(classes) + 1:
            raise ValueError(
                f"a group of {len(classes)} classes answered {p.size} scores; "
                f"expected {len(classes) + 1}"
            )
        scores[list(classes)] = p[1:]
    return scores


def argmax_or_none(scores: np.ndarray) -> int | None:
    """The lowest index of the highest finite score; None when every score is -inf."""
    if not np.isfinite(scores).any():
        return None
    return int(np.argmax(scores))


def merge_input(
    replies: Sequence[np.ndarray | None], senders: Sequence[dict], merge_in: dict
) -> np.ndarray:
    """Each sender's int8 features requantised to the merge input, concatenated in order.

    ``senders[i]``: {"size", "scale", "zero_point"} of sender i's reply; ``merge_in``:
    {"scale", "zero_point"} of the merge model's input. A None reply becomes ``size`` copies
    of the merge zero point (dequantised zero).
    """
    out = []
    for reply, s in zip(replies, senders, strict=True):
        if reply is None:
            out.append(np.full(int(s["size"]), int(merge_in["zero_point"]), np.int8))
            continue
        out.append(
            requantize(
                np.asarray(reply).reshape(-1),
                s["scale"],
                s["zero_point"],
                merge_in["scale"],
                merge_in["zero_point"],
            )
        )
    return np.concatenate(out)
