"""Section 4, failures: accuracy with m of N boards alive, and availability vs failure rate.

Offline m-of-N accuracy votes the cached int8 outputs of every m-subset (``evaluate.subsets``).
Availability: analytic (VP answers while one board lives, 1 - p^N; MP and CP need every board,
(1 - p)^N) and by fault injection: a seeded Monte Carlo drops each board of each request with
probability p and votes the survivors with the gateway's own vote code (``vote.fuse_batch``,
identical winners to ``fuse``); MP answers with the baseline's output only when no board failed.
"""

from __future__ import annotations

import numpy as np

from experiments.bench.context import BenchContext
from experiments.bench.figures import fig
from vp_edge.train import BASELINE

P_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7)


def m_of_n(ctx: BenchContext) -> list[dict]:
    """Mean, worst and best ensemble accuracy over the m-subsets, for every m."""
    from vp_edge.evaluate import ensemble_accuracy, subsets

    rows = []
    w, C = ctx.family.weights(), ctx.family.num_classes
    for m in range(1, len(ctx.variants) + 1):
        accs = [
            ensemble_accuracy(ctx.outputs, ctx.cards, ctx.test.y, s, ctx.k, "reference", w, C)
            for s in subsets(ctx.variants, m)
        ]
        how = f"offline vote over {len(accs)} subset(s) of {m} boards"
        rows.append(
            {
                "m": m,
                "mean": fig(float(np.mean(accs)), "measured", "", how),
                "worst": fig(min(accs), "measured", "", how),
                "best": fig(max(accs), "measured", "", how),
            }
        )
    return rows


def analytic(p: float, n: int) -> dict:
    return {
        "vp": fig(1 - p**n, "modelled", "", f"1 - p^N, N={n}"),
        "mp": fig((1 - p) ** n, "modelled", "", f"(1 - p)^N, N={n}"),
        "cp": fig((1 - p) ** n, "modelled", "", f"(1 - p)^N, N={n}"),
    }


def monte_carlo(ctx: BenchContext, p: float, rounds: int, seed: int) -> dict:
    """Fault injection over the test set (``rounds`` passes): answered share and accuracy."""
    from vp_edge.evaluate import topk_arrays
    from vp_edge.vote import fuse_batch

    names = sorted(ctx.variants)
    n_img = len(ctx.test.y)
    rng = np.random.default_rng(seed)
    topk = {v: topk_arrays(ctx.outputs[v], ctx.k, ctx.cards[v]) for v in names}
    y = np.tile(ctx.test.y, rounds)
    alive = rng.random((rounds * n_img, len(names))) >= p
    winners = np.full(len(y), -1)
    for mask in np.unique(alive, axis=0):
        if not mask.any():
            continue
        rows = np.flatnonzero((alive == mask).all(axis=1))
        img = rows % n_img
        sub = {v: (topk[v][0][img], topk[v][1][img]) for v, a in zip(names, mask, strict=True) if a}
        winners[rows] = fuse_batch(sub, ctx.family.num_classes, "reference", ctx.family.weights())
    all_up = alive.all(axis=1)
    how = f"seeded fault injection, {len(y)} requests"
    out = {
        "vp_available": fig(float(np.mean(winners >= 0)), "measured", "", how),
        "vp_accuracy": fig(
            float(np.mean(winners == y)), "measured", "", how + ", unanswered count as wrong"
        ),
        "mp_available": fig(float(np.mean(all_up)), "measured", "", how + ", all boards"),
        "cp_available": fig(float(np.mean(all_up)), "measured", "", how + ", all boards"),
    }
    if ctx.has_baseline:
        base = np.tile(np.argmax(ctx.outputs[BASELINE], 1), rounds)
        out["mp_accuracy"] = fig(
            float(np.mean(all_up & (base == y))),
            "measured",
            "",
            how + ", baseline answer when every stage is up",
        )
    return out


def failures(ctx: BenchContext, rounds: int, seed: int = 0) -> dict:
    """m-of-N table and availability curves (analytic next to fault injection)."""
    n = len(ctx.variants)
    curve = []
    for i, p in enumerate(P_GRID):
        curve.append(
            {
                "p": fig(p, "modelled", "", "per-board failure probability (set)"),
                "analytic": analytic(p, n),
                "fault_injection": monte_carlo(ctx, p, rounds, seed + i),
            }
        )
    return {
        "boards": fig(n, "measured", "boards", "variants in the run"),
        "m_of_n": m_of_n(ctx),
        "availability": curve,
        "config": {"rounds": rounds, "seed": seed, "k": ctx.k, "rule": "reference"},
    }
