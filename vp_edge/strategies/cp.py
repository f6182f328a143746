"""Class parallelism (sensAI): one "group vs rest" sub-model per balanced class group.

Grouping (our reading of sensAI's balanced k-means on class similarity): each class is the
mean of its training images; balanced k-means on those means (farthest-point start from
class 0, then ten rounds of capacity-limited greedy assignment: group sizes differ by at most
one) gives the groups, deterministic for given data. Sub-model g is a variant-like
MobileNetV2 body (the family's variant g mod V: resolution, alpha, head width), so N
sub-models together are about N variants; its softmax has G_g + 1 outputs, column 0 = "rest".
Each is trained from scratch on the run's budget. The gateway applies the sensAI rule
(``combine.sensai_scores``); a missing group's classes score -inf and the answer comes from
the others (status degraded, the note names the classes no board could predict).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from vp_edge.data import Splits
from vp_edge.family import Family, Variant
from vp_edge.preprocess import to_float
from vp_edge.strategies import parts as P
from vp_edge.strategies.base import (
    DEGRADED,
    FAILED,
    OK,
    Call,
    Outcome,
    Plan,
    Strategy,
)
from vp_edge.strategies.combine import argmax_or_none, sensai_scores
from vp_edge.train import TrainConfig


def balanced_groups(means: np.ndarray, groups: int, rounds: int = 10) -> list[list[int]]:
    """Balanced k-means of the rows of ``means`` into ``groups`` groups (sizes differ <= 1)."""
    means = np.asarray(means, np.float64).reshape(len(means), -1)
    n = len(means)
    sizes = [n // groups + (1 if g < n % groups else 0) for g in range(groups)]
    centres = [means[0]]
    while len(centres) < groups:  # farthest point from the centres so far
        d = np.min([((means - c) ** 2).sum(1) for c in centres], axis=0)
        centres.append(means[int(np.argmax(d))])
    assign = np.zeros(n, int)
    for _ in range(rounds):
        d = ((means[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1)
        assign, cap = np.full(n, -1), list(sizes)
        for flat in np.argsort(d, axis=None, kind="stable"):
            c, g = divmod(int(flat), groups)
            if assign[c] < 0 and cap[g] > 0:
                assign[c], cap[g] = g, cap[g] - 1
        centres = [means[assign == g].mean(0) for g in range(groups)]
    found = [sorted(int(c) for c in np.flatnonzero(assign == g)) for g in range(groups)]
    return sorted(found, key=lambda cs: cs[0])


def class_means(splits: Splits, config: TrainConfig) -> np.ndarray:
    train = splits.train.subset(config.train_limit)
    x = to_float(train.x).reshape(len(train.x), -1)
    return np.stack(
        [
            x[train.y == c].mean(0) if (train.y == c).any() else np.zeros(x.shape[1])
            for c in range(splits.num_classes)
        ]
    )


def group_targets(classes: list[int], num_classes: int) -> np.ndarray:
    """Class -> target of the group's sub-model: 1 + position in the group, 0 = rest."""
    table = np.zeros(num_classes, np.int64)
    table[classes] = np.arange(1, len(classes) + 1)
    return table


def sub_model(family: Family, g: int, size: int) -> Any:
    from vp_edge.models import variant_model

    v = family.variants[g % len(family.variants)]
    sub = replace(
        family,
        name=f"cp{g}",
        num_classes=size + 1,
        class_names=(),
        variants=(Variant(f"cp{g}", v.resolution, v.alpha, v.head),),
    )
    return variant_model(sub, sub.variants[0])


def train(
    family: Family, splits: Splits, run: Path, config: TrainConfig, options: dict, verbose: int
) -> dict:
    groups = balanced_groups(class_means(splits, config), int(options["groups"]))
    options["group_classes"] = groups
    out = {}
    for g, classes in enumerate(groups):
        P.keras().utils.set_random_seed(config.seed + g)
        table = group_targets(classes, family.num_classes)
        model = sub_model(family, g, len(classes))
        out[f"cp{g}"] = P.fit(
            model, f"cp{g}", splits, config, run, labels=lambda y, t=table: t[y], verbose=verbose
        )
    return out


def convert(
    run: Path,
    family: Family,
    splits: Splits,
    options: dict,
    rep: np.ndarray,
    measure: bool,
    bar: Any,
) -> dict:
    from converters.rundir import RunDir

    parts = []
    for g, classes in enumerate(options["group_classes"]):
        name = f"cp{g}"
        model = sub_model(family, g, len(classes))
        model.load_weights(RunDir(run).weights(name))
        tflite = P.convert_model(model, rep, name)
        P.write_part(run, name, model, tflite, {"kind": "cp group", "classes": classes}, measure)
        parts.append(
            {
                "name": name,
                "artefact": f"models/{name}.tflite",
                "reply": "scores",
                "k": len(classes) + 1,
                "stages": 1,
                "classes": classes,
                **P.io_of(tflite),
            }
        )
        bar.update()
    return {"parts": parts, "groups": options["group_classes"]}


def steps(options: dict) -> int:
    return int(options["groups"])


class CpStrategy(Strategy):
    """All groups in parallel; the sensAI rule over whichever answered."""

    name = "cp"

    def plan(self, image: np.ndarray) -> Plan:
        calls = [Call(p.name, 0, self.image_tensor(p, image)) for p in self.parts]
        replies = yield calls
        groups = [self.doc["groups"][i] for i in range(len(self.parts))]
        quant = [(p.output["scale"], p.output["zero_point"]) for p in self.parts]
        scores = sensai_scores(replies, groups, quant, self.num_classes)
        missing = tuple(p.name for p, r in zip(self.parts, replies, strict=True) if r is None)
        label = argmax_or_none(scores)
        if label is None:
            return Outcome(None, scores, missing, FAILED, "no group answered")
        if not missing:
            return Outcome(label, scores, (), OK, "")
        lost = [
            self.class_names[c]
            for p, r, cs in zip(self.parts, replies, groups, strict=True)
            if r is None
            for c in cs
        ]
        return Outcome(
            label,
            scores,
            missing,
            DEGRADED,
            f"no reply from {', '.join(missing)}: classes {', '.join(lost)} cannot be predicted",
        )


STRATEGY = CpStrategy
