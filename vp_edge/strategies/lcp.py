"""Low-communication parallelism (LCP): B narrow branches on the shared input, merged late.

Branch i: the input resized to the family's variant (i mod V) resolution, a MobileNetV2
backbone at alpha 0.35, a 1x1 conv to F features (``features``, default 32) with BN and
ReLU6, global average pooling: its reply is those F int8 values. The merge classifier
(concatenate -> dropout -> dense -> softmax) is trained jointly with the branches and exported
as its own int8 .tflite that the gateway runs on LiteRT reference kernels (the same code
offline and live). A missing branch's features are filled with its dequantised zero (the
merge input's zero point), status degraded; accuracy with each branch missing is measured by
``strategy_figures``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vp_edge.data import Splits
from vp_edge.family import Family
from vp_edge.strategies import parts as P
from vp_edge.strategies.base import DEGRADED, FAILED, OK, Call, Outcome, Plan, Strategy
from vp_edge.strategies.combine import dequantize, merge_input
from vp_edge.train import TrainConfig

ALPHA = 0.35
MODEL = "lcp_joint"
MERGE = "lcp_merge"


def branch_model(family: Family, i: int, features: int) -> Any:
    from vp_edge import models as M

    k = P.keras()
    v = family.variants[i % len(family.variants)]
    p = f"lcp{i}_"
    inp = k.Input(shape=family.input_shape, name=f"{p}input")
    x = inp
    if (v.resolution, v.resolution) != tuple(family.input_shape[:2]):
        x = k.layers.Resizing(
            v.resolution, v.resolution, interpolation=family.resize, name=f"{p}resize"
        )(x)
    x = M.backbone(x, ALPHA, family.stem_stride, p, family.output_stride)
    x = M._conv_bn(x, features, 1, 1, f"{p}features", act=True)
    x = k.layers.GlobalAveragePooling2D(name=f"{p}pool")(x)
    return k.Model(inp, x, name=f"lcp{i}")


def merge_model(width: int, num_classes: int, dropout: float, name: str) -> Any:
    """concat(features) -> dropout -> dense -> softmax (the gateway's int8 model)."""
    k = P.keras()
    inp = k.Input(shape=(width,), name=f"{name}_input")
    x = k.layers.Dropout(dropout, name=f"{name}_dropout")(inp)
    x = k.layers.Dense(num_classes, name=f"{name}_logits")(x)
    return k.Model(inp, k.layers.Softmax(name=f"{name}_softmax")(x), name=name)


def joint_model(family: Family, branches: int, features: int) -> tuple[Any, list[Any], Any]:
    k = P.keras()
    inp = k.Input(shape=family.input_shape, name="input")
    models = [branch_model(family, i, features) for i in range(branches)]
    merge = merge_model(branches * features, family.num_classes, family.dropout, MERGE)
    feats = k.layers.Concatenate(name="lcp_concat")([m(inp) for m in models])
    return k.Model(inp, merge(feats), name=MODEL), models, merge


def train(
    family: Family, splits: Splits, run: Path, config: TrainConfig, options: dict, verbose: int
) -> dict:
    model, _, _ = joint_model(family, int(options["branches"]), int(options["features"]))
    return {MODEL: P.fit(model, MODEL, splits, config, run, verbose=verbose)}


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

    joint, branches, merge = joint_model(family, int(options["branches"]), int(options["features"]))
    joint.load_weights(RunDir(run).weights(MODEL))
    parts, feats = [], []
    for i, m in enumerate(branches):
        name = f"lcp{i}"
        tflite = P.convert_model(m, rep, name)
        P.write_part(run, name, m, tflite, {"kind": "lcp branch"}, measure)
        parts.append(
            {
                "name": name,
                "artefact": f"models/{name}.tflite",
                "reply": "tensor",
                "k": 0,
                "stages": 1,
                **P.io_of(tflite),
            }
        )
        feats.append(P.float_features(m, rep))
        bar.update()
    tflite = P.convert_model(merge, np.concatenate(feats, axis=1), MERGE)
    P.write_part(run, MERGE, merge, tflite, {"kind": "gateway merge"}, measure)
    bar.update()
    return {
        "parts": parts,
        "gateway": {"merge": {"artefact": f"models/{MERGE}.tflite", **P.io_of(tflite)}},
    }


def steps(options: dict) -> int:
    return int(options["branches"]) + 1


def merge_outcome(
    strategy: Strategy, replies: list, senders: list[dict], names: list[str]
) -> Outcome:
    """The gateway's merge over the senders' feature replies (shared with DISCO)."""
    missing = tuple(n for n, r in zip(names, replies, strict=True) if r is None)
    if len(missing) == len(names):
        return Outcome(None, None, missing, FAILED, "no part answered")
    gw = strategy.doc["gateway"]["merge"]
    x = merge_input(replies, senders, gw["input"])
    q = strategy.gateway_runner("merge").run(x)
    scores = dequantize(q, gw["output"]["scale"], gw["output"]["zero_point"])
    if missing:
        return Outcome(
            int(np.argmax(scores)),
            scores,
            missing,
            DEGRADED,
            f"no reply from {', '.join(missing)}: its features taken as zero",
        )
    return Outcome(int(np.argmax(scores)), scores, (), OK, "")


class LcpStrategy(Strategy):
    """All branches in parallel; the gateway merges their features."""

    name = "lcp"

    def plan(self, image: np.ndarray) -> Plan:
        replies = yield [Call(p.name, 0, self.image_tensor(p, image)) for p in self.parts]
        senders = [{"size": int(np.prod(p.output["shape"])), **p.output} for p in self.parts]
        return merge_outcome(self, replies, senders, [p.name for p in self.parts])


STRATEGY = LcpStrategy
