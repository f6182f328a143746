"""One request's state at the gateway, and the pure vote over the answers its boards sent."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np

from vp_edge.vote import TopK, VoteResult, dequantize, fuse


@dataclass
class Pending:
    """What a request sent, to whom, and what came back (results, errors, boards dropped)."""

    rid: int
    targets: set[str]
    sent: dict[str, float]
    t0: float = 0.0
    results: dict[str, tuple[tuple[tuple[int, int], ...], float]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    dropped: set[str] = field(default_factory=set)  # marked down while the request waited
    models: dict[str, str] = field(default_factory=dict)  # board -> vote identity when sent
    done: asyncio.Event = field(default_factory=asyncio.Event)


def vote_boards(
    results: dict[str, tuple[int, str, tuple[tuple[int, int], ...]]],
    cards: dict[str, dict],
    num_classes: int,
    rule: str,
    weights: dict[str, float] | None,
) -> tuple[VoteResult, tuple[str, ...]]:
    """Fuse board answers ``{board: (board_id, variant, pairs)}``; also the boards that voted.

    Pure and deterministic: boards sharing a variant are replicas, and the lowest board id
    among those that answered speaks for the variant, whatever the arrival order.
    """
    chosen: dict[str, tuple[int, str, tuple]] = {}
    for name, (bid, variant, pairs) in sorted(results.items(), key=lambda kv: kv[1][0]):
        if variant not in chosen:
            chosen[variant] = (bid, name, pairs)
    answers = []
    for variant, (_, _, pairs) in chosen.items():
        c = cards[variant]
        raw = np.array([s for _, s in pairs], dtype=np.int64)
        scores = dequantize(raw, c["output_scale"], c["output_zero_point"])
        answers.append(
            TopK(variant, tuple(int(k) for k, _ in pairs), tuple(float(s) for s in scores))
        )
    voters = tuple(sorted(name for _, name, _ in chosen.values()))
    return fuse(answers, num_classes, rule, weights), voters
