"""The top-k rule of a RESULT (docs/protocol.md §3), defined once for boards and the vote.

Pairs are the k highest scores, best first; equal scores go to the lower class index. Every
board (the Python server, the C firmware, the PYNQ daemon) and the gateway's offline vote
follow this rule, so live and offline answers can be compared value for value.
"""

from __future__ import annotations

import numpy as np


def topk_indices(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values, best first, ties to the lowest index.

    Works on a vector or on a batch (last axis). ``np.argsort`` with kind="stable" on the
    negated values keeps equal values in index order.
    """
    v = np.asarray(values)
    order = np.argsort(-v.astype(np.int64) if v.dtype.kind in "iu" else -v, axis=-1, kind="stable")
    return order[..., :k]


def result_pairs(q: np.ndarray, k: int) -> tuple[tuple[int, int], ...]:
    """A RESULT's (class, raw int8 score) pairs for the int8 output vector ``q``."""
    return tuple((int(c), int(q[c])) for c in topk_indices(q, k))
