"""Fault injection through the live gateway: each board misses a request with probability p.

``DropLinks`` wraps the gateway's links (``Gateway(opener=...)``) and swallows a board's INFER
datagram with probability ``p`` (seeded per board), so the board never sees that request and
the gateway must answer from the others by its deadline. Control frames (PROBE, short) pass,
so a board is never marked failed for good; the gateway's miss counter is lifted meanwhile.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np

from experiments.bench.figures import fig

#: frames longer than this are INFER chunks (a PROBE frame is ~33 bytes)
INFER_MIN = 100


class _DropLink:
    """A link whose large frames are dropped with the shared probability ``state.p``."""

    def __init__(self, inner, state: DropLinks, rng: random.Random) -> None:
        self.inner, self.state, self.rng = inner, state, rng

    def send(self, data: bytes) -> None:
        if len(data) > INFER_MIN and self.rng.random() < self.state.p:
            self.state.dropped += 1
            return
        self.inner.send(data)

    def recv(self, timeout: float) -> bytes:
        return self.inner.recv(timeout)

    def close(self) -> None:
        self.inner.close()


class DropLinks:
    """The opener the gateway uses, plus the drop probability all its links share."""

    def __init__(self, seed: int) -> None:
        self.p, self.seed, self.dropped = 0.0, seed, 0

    def __call__(self, spec, pty_dir: Path):
        from vp_edge.gateway import default_opener

        return _DropLink(default_opener(spec, pty_dir), self, random.Random(self.seed + spec.id))


async def inject(gw, drops: DropLinks, x: np.ndarray, y: np.ndarray, grid: tuple[float, ...],
                 deadline_s: float) -> list[dict]:
    """Answered share and top-1 for each p, through the gateway, with a short deadline."""
    saved = gw.dep, gw.fail_after
    gw.dep = dataclasses.replace(gw.dep, deadline_s=deadline_s)
    gw.fail_after = 1 << 30
    rows = []
    try:
        for p in grid:
            drops.p, answered, correct = p, 0, 0
            for i in range(len(x)):
                a = await gw.classify(x[i], int(y[i]))
                answered += a.winner is not None
                correct += a.winner == int(y[i])
            how = (f"{len(x)} requests through the gateway, INFER dropped per board with "
                   f"probability p, deadline {deadline_s * 1000:g} ms")
            rows.append({"p": fig(p, "modelled", "", "per-board failure probability (set)"),
                         "vp_available": fig(answered / len(x), "measured", "", how),
                         "vp_accuracy": fig(correct / len(x), "measured", "",
                                            how + ", unanswered count as wrong")})
    finally:
        drops.p = 0.0
        gw.dep, gw.fail_after = saved
    return rows
