"""DISCO: within-layer model parallelism over two nodes with learned sparse exchanges.

Our reading of arXiv 2302.11180 (the paper body was unavailable): a CNN of ``LAYERS`` 3x3
stride-2 conv layers (BN, ReLU6) whose channels are split into two node halves A and B. Layer
0 reads the shared image on both nodes; layer l > 0 on node A computes
conv_AA(a) + conv_BA(b) (and symmetrically on B). Training adds a group-lasso penalty on the
cross-node kernels, one group per input channel (``lasso`` * sum_c ||W_cross[:, :, c, :]||_2);
then the cross kernels' input channels are pruned to the fraction ``keep`` (largest group
norms kept, at least one) and the model is fine-tuned (``finetune_epochs``) with the mask
fixed. ``keep`` = 1.0 is plain within-layer splitting (no penalty, no pruning, every channel
exchanged); it is fine-tuned too, so every keep level trains the same number of epochs.
Each half-features vector (global average pool of the last layer) goes to the gateway, which
runs the merge (dense -> softmax) as its own int8 model.

Per node the int8 part is a .vpb bundle (boards.staged), one stage per layer: stage 0 takes
the image; stage l > 0 takes its own cached layer l-1 output and the other node's selected
channels; each stage replies with the channels the other node's next layer reads (the last
stage: its pooled half-features). The gateway forwards each reply unchanged to the other node.
A node that does not answer is missing from then on: the other node receives that node's
output zero point (a dequantised zero) in its place, and the merge gets zero features for it
(status degraded).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vp_edge.data import Splits
from vp_edge.family import Family
from vp_edge.strategies import parts as P
from vp_edge.strategies.base import DEGRADED, FAILED, Call, Outcome, Plan, Strategy
from vp_edge.strategies.lcp import merge_model, merge_outcome
from vp_edge.train import TrainConfig

#: output channels of each conv layer over both nodes (each node computes half)
WIDTHS = (16, 32, 64, 64)
NODES = ("a", "b")
MODEL = "disco_joint"
MERGE = "disco_merge"


def _mask_layer() -> Any:
    k = P.keras()

    class ChannelMask(k.layers.Layer):
        """Multiplies channels by a fixed 0/1 mask (non-trainable): the pruned exchange."""

        def build(self, input_shape: Any) -> None:
            self.mask = self.add_weight(
                shape=(int(input_shape[-1]),), initializer="ones", trainable=False, name="mask"
            )

        def call(self, x: Any) -> Any:
            return x * self.mask

    return ChannelMask


def group_lasso(weight: float) -> Any:
    """Penalty weight * sum over input channels of the cross kernel's L2 norm."""
    k = P.keras()

    def penalty(w: Any) -> Any:
        return weight * k.ops.sum(k.ops.sqrt(k.ops.sum(k.ops.square(w), axis=(0, 1, 3)) + 1e-12))

    return penalty


def _bn_relu(x: Any, name: str) -> Any:
    from vp_edge.models import BN_EPSILON, BN_MOMENTUM

    k = P.keras()
    x = k.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return k.layers.ReLU(6.0, name=f"{name}_relu")(x)


def joint_model(family: Family, lasso: float) -> Any:
    """Both nodes in one graph; cross convs named x{l}_{src}{dst}, masks m{l}_{src}{dst}."""
    k = P.keras()
    mask = _mask_layer()
    reg = group_lasso(lasso) if lasso > 0 else None
    inp = k.Input(shape=family.input_shape, name="input")
    h = {}
    for n in NODES:
        h[n] = _bn_relu(
            k.layers.Conv2D(
                WIDTHS[0] // 2, 3, strides=2, padding="same", use_bias=False, name=f"c0_{n}"
            )(inp),
            f"c0_{n}",
        )
    for layer in range(1, len(WIDTHS)):
        new = {}
        for n, o in (("a", "b"), ("b", "a")):
            own = k.layers.Conv2D(
                WIDTHS[layer] // 2,
                3,
                strides=2,
                padding="same",
                use_bias=False,
                name=f"c{layer}_{n}",
            )(h[n])
            sent = mask(name=f"m{layer}_{o}{n}")(h[o])
            cross = k.layers.Conv2D(
                WIDTHS[layer] // 2,
                3,
                strides=2,
                padding="same",
                use_bias=False,
                kernel_regularizer=reg,
                name=f"x{layer}_{o}{n}",
            )(sent)
            new[n] = _bn_relu(k.layers.Add(name=f"s{layer}_{n}")([own, cross]), f"c{layer}_{n}")
        h = new
    pooled = [k.layers.GlobalAveragePooling2D(name=f"pool_{n}")(h[n]) for n in NODES]
    feats = k.layers.Concatenate(name="disco_concat")(pooled)
    merge = merge_model(WIDTHS[-1], family.num_classes, family.dropout, MERGE)
    return k.Model(inp, merge(feats), name=MODEL)


def prune(model: Any, keep: float) -> dict[str, list[int]]:
    """Keep the ``keep`` fraction of each cross kernel's input channels (largest L2 norms)."""
    kept = {}
    for layer in range(1, len(WIDTHS)):
        for src, dst in (("a", "b"), ("b", "a")):
            conv = model.get_layer(f"x{layer}_{src}{dst}")
            w = conv.get_weights()[0]
            norms = np.sqrt((w.astype(np.float64) ** 2).sum(axis=(0, 1, 3)))
            n = max(1, int(round(keep * len(norms))))
            sel = sorted(int(c) for c in np.argsort(-norms, kind="stable")[:n])
            mask = np.zeros(len(norms), np.float32)
            mask[sel] = 1.0
            w[:, :, mask == 0, :] = 0.0
            conv.set_weights([w])
            model.get_layer(f"m{layer}_{src}{dst}").set_weights([mask])
            kept[f"{layer}_{src}{dst}"] = sel
    return kept


def train(
    family: Family, splits: Splits, run: Path, config: TrainConfig, options: dict, verbose: int
) -> dict:
    """Train (group lasso unless keep = 1), prune to ``keep``, fine-tune with the mask fixed
    (keep = 1 too: the same epochs at every level)."""
    from converters.rundir import RunDir

    keep = float(options["keep"])
    lasso = float(options["lasso"]) if keep < 1.0 else 0.0
    model = joint_model(family, lasso)
    out = {MODEL: P.fit(model, MODEL, splits, config, run, verbose=verbose)}
    kept = prune(model, keep)
    options["kept"] = kept
    model.save_weights(RunDir(run).weights(MODEL))  # the pruned weights (masks included)
    if int(options["finetune_epochs"]) > 0:  # every keep level: the same epochs in all
        tuned = joint_model(family, 0.0)
        tuned.set_weights(model.get_weights())
        out["disco_finetune"] = P.fit(
            tuned,
            MODEL,
            splits,
            config,
            run,
            verbose=verbose,
            epochs=int(options["finetune_epochs"]),
        )
    return out


def stage_model(trained: Any, node: str, layer: int, sel: list[int], in_shape: tuple) -> Any:
    """One node's layer as one conv over [own, received selected channels] (+ pool at the end)."""
    k = P.keras()
    name = f"disco_{node}{layer}"
    inp = k.Input(shape=in_shape, name=f"{name}_input")
    conv = k.layers.Conv2D(
        WIDTHS[layer] // 2, 3, strides=2, padding="same", use_bias=False, name=f"c{layer}_{node}"
    )
    x = _bn_relu(conv(inp), f"c{layer}_{node}")
    if layer == len(WIDTHS) - 1:
        x = k.layers.GlobalAveragePooling2D(name=f"pool_{node}")(x)
    model = k.Model(inp, x, name=name)
    w = trained.get_layer(f"c{layer}_{node}").get_weights()[0]
    if layer > 0:
        other = "b" if node == "a" else "a"
        cross = trained.get_layer(f"x{layer}_{other}{node}").get_weights()[0]
        w = np.concatenate([w, cross[:, :, sel, :]], axis=2)
    conv.set_weights([w])
    bn = f"c{layer}_{node}_bn"
    model.get_layer(bn).set_weights(trained.get_layer(bn).get_weights())
    return model


def float_activations(trained: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every node's layer output (post ReLU) on the calibration images, by "a0", "b3", ..."""
    k = P.keras()
    keys = [(n, layer) for layer in range(len(WIDTHS)) for n in NODES]
    probe = k.Model(
        trained.input, [trained.get_layer(f"c{layer}_{n}_relu").output for n, layer in keys]
    )
    outs = probe.predict(x, batch_size=256, verbose=0)
    return {f"{n}{layer}": np.asarray(o) for (n, layer), o in zip(keys, outs, strict=True)}


def _other(node: str) -> str:
    return "b" if node == "a" else "a"


def _convert_stages(trained: Any, kept: dict, rep: np.ndarray, bar: Any) -> dict:
    """(node, layer) -> (Keras stage model, int8 bytes, io), calibrated on float activations."""
    act = float_activations(trained, rep)
    out = {}
    for layer in range(len(WIDTHS)):
        for n in NODES:
            if layer == 0:
                x, sel = rep, []
            else:
                sel = kept[f"{layer}_{_other(n)}{n}"]
                x = np.concatenate(
                    [act[f"{n}{layer - 1}"], act[f"{_other(n)}{layer - 1}"][..., sel]], axis=-1
                )
            model = stage_model(trained, n, layer, sel, tuple(x.shape[1:]))
            tflite = P.convert_model(model, x, model.name)
            out[n, layer] = (model, tflite, P.io_of(tflite))
        bar.update()
    return out


def _manifest_entry(stages: dict, kept: dict, n: str, layer: int) -> dict:
    _, _, io = stages[n, layer]
    last = layer == len(WIDTHS) - 1
    entry = {
        "own": None,
        "received": None,
        "input": io["input"],
        "output": io["output"],
        "reply": None if last else kept[f"{layer + 1}_{n}{_other(n)}"],
    }
    if layer > 0:
        sender = stages[_other(n), layer - 1][2]["output"]
        entry["own"] = {"channels": WIDTHS[layer - 1] // 2}
        entry["received"] = {
            "channels": len(kept[f"{layer}_{_other(n)}{n}"]),
            "scale": sender["scale"],
            "zero_point": sender["zero_point"],
        }
    return entry


def _stage_card(model: Any, tflite: bytes, measure: bool) -> dict:
    import tempfile

    from converters.card import keras_macs, measure_arena, model_card

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{model.name}.tflite"
        path.write_bytes(tflite)
        arena = measure_arena(path) if measure else 0
    return model_card(
        model.name, tflite, model.count_params(), keras_macs(model), arena, None, None
    )


def _node_part(run: Path, stages: dict, kept: dict, n: str, measure: bool) -> dict:
    from boards.staged import write_vpb
    from converters.card import sha256, write_card
    from converters.rundir import RunDir

    name = f"disco_{n}"
    entries = [_manifest_entry(stages, kept, n, layer) for layer in range(len(WIDTHS))]
    vpb = write_vpb([(e, stages[n, layer][1]) for layer, e in enumerate(entries)])
    RunDir(run).bundle(name).write_bytes(vpb)
    cards = [
        _stage_card(stages[n, layer][0], stages[n, layer][1], measure)
        for layer in range(len(WIDTHS))
    ]
    card = {
        "name": name,
        "kind": "disco node",
        "params": sum(c["params"] for c in cards),
        "macs": sum(c["macs"] for c in cards),
        "macs_keras": sum(c["macs_keras"] for c in cards),
        "arena_bytes": max(c["arena_bytes"] for c in cards),
        "tflite_bytes": len(vpb),
        "tflite_sha256": sha256(vpb),
        "float_accuracy": None,
        "int8_accuracy": None,
        "stages": cards,
    }
    write_card(card, RunDir(run).card(name))
    replies = [
        {
            "size": int(np.prod(e["output"]["shape"][:-1]))
            * (len(e["reply"]) if e["reply"] is not None else e["output"]["shape"][-1]),
            "scale": e["output"]["scale"],
            "zero_point": e["output"]["zero_point"],
        }
        for e in entries
    ]
    return {
        "name": name,
        "artefact": f"models/{name}.vpb",
        "reply": "tensor",
        "k": 0,
        "stages": len(WIDTHS),
        "input": entries[0]["input"],
        "output": entries[-1]["output"],
        "stage_replies": replies,
    }


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

    trained = joint_model(family, 0.0)
    trained.load_weights(RunDir(run).weights(MODEL))
    kept = options["kept"]
    stages = _convert_stages(trained, kept, rep, bar)
    parts = [_node_part(run, stages, kept, n, measure) for n in NODES]
    act = float_activations(trained, rep)
    pooled = np.concatenate([act[f"{n}{len(WIDTHS) - 1}"].mean(axis=(1, 2)) for n in NODES], 1)
    merge = merge_model(WIDTHS[-1], family.num_classes, family.dropout, MERGE)
    P.copy_weights(merge, trained.get_layer(MERGE))
    tflite = P.convert_model(merge, pooled, MERGE)
    P.write_part(run, MERGE, merge, tflite, {"kind": "gateway merge"}, measure)
    bar.update()
    return {
        "parts": parts,
        "kept": kept,
        "keep": options["keep"],
        "gateway": {"merge": {"artefact": f"models/{MERGE}.tflite", **P.io_of(tflite)}},
    }


def steps(options: dict) -> int:
    return len(WIDTHS) + 1


class DiscoStrategy(Strategy):
    """Two nodes stage by stage, the gateway forwarding each reply to the other node."""

    name = "disco"

    def plan(self, image: np.ndarray) -> Plan:
        nodes = self.parts
        x = {p.name: self.image_tensor(p, image) for p in nodes}
        alive = {p.name: True for p in nodes}
        last: dict[str, np.ndarray | None] = {}
        for stage in range(nodes[0].stages):
            calls = [Call(p.name, stage, x[p.name]) for p in nodes if alive[p.name]]
            if not calls:
                return Outcome(None, None, tuple(p.name for p in nodes), FAILED, "no node answered")
            replies = dict(zip([c.part for c in calls], (yield calls), strict=True))
            for p in nodes:
                r = replies.get(p.name)
                alive[p.name] = alive[p.name] and r is not None
                last[p.name] = r if alive[p.name] else None
            for p, q in ((nodes[0], nodes[1]), (nodes[1], nodes[0])):
                sent = last[q.name]
                if sent is None:  # the other node is gone: its dequantised zero instead
                    rq = self._stage_reply(q, stage)
                    sent = np.full(rq["size"], int(rq["zero_point"]), np.int8)
                x[p.name] = sent
        senders = [self._stage_reply(p, nodes[0].stages - 1) for p in nodes]
        out = merge_outcome(self, [last[p.name] for p in nodes], senders, [p.name for p in nodes])
        return (
            out
            if out.status != DEGRADED
            else Outcome(
                out.label,
                out.scores,
                out.missing,
                DEGRADED,
                f"no reply from {', '.join(out.missing)}: its exchanged channels and features "
                "taken as zero",
            )
        )

    def _stage_reply(self, part: Any, stage: int) -> dict:
        doc = next(p for p in self.doc["parts"] if p["name"] == part.name)
        return doc["stage_replies"][stage]


STRATEGY = DiscoStrategy
