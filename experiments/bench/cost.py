"""Section 1, model cost: what each variant and the baseline cost, from cards and outputs.

Params, MACs (counted from the int8 graph), .tflite bytes and tflite-micro arena bytes come
from the model cards; accuracy is recomputed here from the cached int8 outputs on the bench's
test images (LiteRT reference kernels), next to the ensemble's. Ratios baseline/variant are set
beside the paper's ranges.
"""

from __future__ import annotations

import numpy as np

from experiments.bench.context import BenchContext
from experiments.bench.figures import fig, fig_range
from vp_edge.train import BASELINE

PAPER = {"params_ratio": (5.8, 7.1), "macs_ratio": (4.3, 31.0), "response_ratio": (2.5, 13.2)}


def paper_range(key: str) -> dict:
    lo, hi = PAPER[key]
    return {
        "low": fig(lo, "paper", "x", "VP abstract, vs MobileNetV2"),
        "high": fig(hi, "paper", "x", "VP abstract, vs MobileNetV2"),
    }


def _engine(name: str) -> str:
    """The engine the evaluation ran ``name`` on (the baseline may use optimised kernels)."""
    try:
        from vp_edge.workers import engine_for
    except ImportError:
        return "litert-ref"
    return engine_for(name)


def _row(ctx: BenchContext, name: str) -> dict:
    c = ctx.cards[name]
    acc = float(np.mean(np.argmax(ctx.outputs[name], 1) == ctx.test.y))
    src = "model card (int8 graph)"
    return {
        "params": fig(c["params"], "measured", "", "model card (Keras weights)"),
        "macs": fig(c["macs"], "measured", "MAC", src),
        "tflite_bytes": fig(c["tflite_bytes"], "measured", "B", "size of the int8 .tflite"),
        "arena_bytes": fig(c["arena_bytes"], "measured", "B", "smallest tflite-micro arena"),
        "int8_accuracy": fig(acc, "measured", "", f"top-1 of the int8 model on {_engine(name)}"),
        "float_accuracy": fig(c.get("float_accuracy"), "measured", "", "top-1, Keras float"),
    }


def model_cost(ctx: BenchContext) -> dict:
    """Per-variant rows with ratios, the baseline row, and the ensemble's accuracy."""
    from vp_edge.evaluate import ensemble_accuracy

    base = _row(ctx, BASELINE) if ctx.has_baseline else None
    variants = []
    for v in ctx.family.variants:
        row = {
            "name": v.name,
            "variant": {"resolution": v.resolution, "alpha": v.alpha, "head": v.head},
            **_row(ctx, v.name),
        }
        if base:
            for key in ("params", "macs"):
                r = base[key]["value"] / row[key]["value"]
                row[f"{key}_ratio"] = fig(r, "measured", "x", f"baseline {key} / variant {key}")
        variants.append(row)
    ens = ensemble_accuracy(
        ctx.outputs,
        ctx.cards,
        ctx.test.y,
        ctx.variants,
        ctx.k,
        "reference",
        ctx.family.weights(),
        ctx.family.num_classes,
    )
    out = {
        "variants": variants,
        "baseline": base,
        "ensemble_accuracy": fig(
            ens, "measured", "", f"reference vote, k={ctx.k}, all variants, int8 outputs"
        ),
        "test_images": fig(len(ctx.test.y), "measured", "images", "bench test subset"),
        "paper": {k: paper_range(k) for k in ("params_ratio", "macs_ratio")},
    }
    if base:
        for key in ("params", "macs"):
            rs = [v[f"{key}_ratio"]["value"] for v in variants]
            out[f"{key}_ratio_range"] = fig_range(rs, "measured", "over variants")
        total = {key: sum(v[key]["value"] for v in variants) for key in ("params", "macs")}
        out["family_total_vs_baseline"] = {
            key: fig(
                total[key] / base[key]["value"],
                "measured",
                "x",
                f"sum of variants' {key} / baseline {key}",
            )
            for key in total
        }
    return out
