"""Variant parallelism as a Strategy: today's run (variants, cards, vote rule) in one table
with the others. Its live path stays the existing gateway; this plan is the same vote
(vp_edge.vote: top-k of each variant's int8 output, weighted sum, reference weights).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from converters.rundir import RunDir
from vp_edge.evaluate import DEFAULT_K
from vp_edge.strategies.base import DEGRADED, FAILED, OK, Call, Outcome, Plan, Strategy
from vp_edge.vote import fuse, topk_from_int8


def describe(run: Path, k: int = DEFAULT_K) -> dict:
    """The strategy.json of a converted VP run, from its family and model cards."""
    from vp_edge.train import load_run_family, run_class_names

    family = load_run_family(run)
    parts = []
    for v in family.variants:
        card = json.loads(RunDir(run).card(v.name).read_text())
        parts.append(
            {
                "name": v.name,
                "artefact": f"models/{v.name}.tflite",
                "reply": "scores",
                "k": k,
                "stages": 1,
                "input": {
                    "shape": card["input_shape"][1:],
                    "scale": card["input_scale"],
                    "zero_point": card["input_zero_point"],
                },
                "output": {
                    "shape": [card["num_classes"]],
                    "scale": card["output_scale"],
                    "zero_point": card["output_zero_point"],
                },
            }
        )
    return {
        "strategy": "vp",
        "class_names": list(run_class_names(run, family)),
        "parts": parts,
        "vote": {"rule": "reference", "k": k, "weights": family.weights()},
    }


class VpStrategy(Strategy):
    """Every variant in parallel; the weighted top-k vote of whichever answered."""

    name = "vp"

    def plan(self, image: np.ndarray) -> Plan:
        replies = yield [Call(p.name, 0, self.image_tensor(p, image)) for p in self.parts]
        vote = self.doc["vote"]
        answers = [
            topk_from_int8(p.name, r, int(vote["k"]), p.output["scale"], p.output["zero_point"])
            for p, r in zip(self.parts, replies, strict=True)
            if r is not None
        ]
        missing = tuple(p.name for p, r in zip(self.parts, replies, strict=True) if r is None)
        if not answers:
            return Outcome(None, None, missing, FAILED, "no variant answered")
        result = fuse(answers, self.num_classes, vote["rule"], vote["weights"])
        scores = np.asarray(result.scores)
        if missing:
            return Outcome(
                result.winner,
                scores,
                missing,
                DEGRADED,
                f"no reply from {', '.join(missing)}: voted without them",
            )
        return Outcome(result.winner, scores, (), OK, "")


STRATEGY = VpStrategy
