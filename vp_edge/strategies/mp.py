"""Model parallelism: the run's baseline cut into consecutive int8 parts at the cheapest cuts.

``cuts`` (1-3) cuts give cuts + 1 parts. Cuts are chosen among block boundaries (after the
stem and after each inverted-residual block; a boundary never lies inside a residual
connection, so one tensor crosses it): the ``cuts`` boundaries with the fewest activation
values (ties: the earlier). Each part is converted to int8 on its own, calibrated on the
float activations of the parts before it.
The plan sends the quantised image to part 0 and each part's reply, requantised (dequantise
with the sender's output scale/zp, quantise with the receiver's input scale/zp, round half
away from zero), to the next; the answer is the argmax of the last part's output.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from vp_edge.data import Splits
from vp_edge.family import BLOCKS, Family, make_divisible
from vp_edge.strategies import parts as P
from vp_edge.strategies.base import FAILED, OK, Call, Outcome, Plan, Strategy, missing_note
from vp_edge.strategies.combine import dequantize, requantize
from vp_edge.train import TrainConfig

MODEL = "mp_baseline"
Segment = tuple[str, Callable[[Any], Any]]


def segments(family: Family) -> list[Segment]:
    """The baseline (vp_edge.models.baseline_model, same layer names) as consecutive pieces."""
    from vp_edge import models as M

    k = P.keras()
    r = family.max_resolution

    def stem(x: Any) -> Any:
        if (r, r) != tuple(family.input_shape[:2]):
            x = k.layers.Resizing(r, r, interpolation=family.resize, name="baseline_resize")(x)
        return M._conv_bn(x, make_divisible(32), 3, family.stem_stride, "baseline_stem", True)

    def head(x: Any) -> Any:
        x = M._conv_bn(x, 1280, 1, 1, "baseline_conv1", act=True)
        x = k.layers.GlobalAveragePooling2D(name="baseline_pool")(x)
        x = k.layers.Dropout(family.dropout, name="baseline_dropout")(x)
        x = k.layers.Dense(family.num_classes, name="baseline_logits")(x)
        return k.layers.Softmax(name="baseline_softmax")(x)

    out: list[Segment] = [("stem", stem)]
    block = 0
    last_down = max(i for i, b in enumerate(BLOCKS) if b[3] == 2)
    for stage, (expansion, channels, repeats, stride) in enumerate(BLOCKS):
        if family.output_stride == 16 and stage == last_down:
            stride = 1
        for i in range(repeats):
            out.append(
                (
                    f"b{block}",
                    partial(
                        M._inverted_residual,
                        expansion=expansion,
                        out_ch=make_divisible(int(channels)),
                        stride=stride if i == 0 else 1,
                        name=f"baseline_b{block}",
                    ),
                )
            )
            block += 1
    out.append(("head", head))
    return out


def segment_model(family: Family, segs: list[Segment], input_shape: tuple, name: str) -> Any:
    k = P.keras()
    inp = k.Input(shape=tuple(input_shape), name=f"{name}_input")
    x = inp
    for _, fn in segs:
        x = fn(x)
    return k.Model(inp, x, name=name)


def boundary_shapes(family: Family) -> list[tuple[int, ...]]:
    """Activation shape after each segment but the last (the candidate cuts)."""
    k = P.keras()
    x = k.Input(shape=family.input_shape)
    shapes = []
    for _, fn in segments(family)[:-1]:
        x = fn(x)
        shapes.append(tuple(int(d) for d in x.shape[1:]))
    return shapes


def choose_cuts(shapes: list[tuple[int, ...]], cuts: int) -> list[int]:
    """The ``cuts`` boundaries with the fewest values (ties: earlier), in order."""
    order = sorted(range(len(shapes)), key=lambda i: (int(np.prod(shapes[i])), i))
    return sorted(order[:cuts])


def train(
    family: Family, splits: Splits, run: Path, config: TrainConfig, options: dict, verbose: int
) -> dict:
    """Train today's baseline (vp_edge.models.baseline_model) on the budget."""
    from vp_edge.models import baseline_model

    model = baseline_model(family)
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
    """Cut, convert each part (calibrated on the previous parts' float activations)."""
    from converters.rundir import RunDir
    from vp_edge.models import baseline_model

    trained = baseline_model(family)
    trained.load_weights(RunDir(run).weights(MODEL))
    segs = segments(family)
    shapes = boundary_shapes(family)
    cut_at = choose_cuts(shapes, int(options["cuts"]))
    bounds = [0, *[c + 1 for c in cut_at], len(segs)]
    parts, x = [], rep
    in_shape: tuple = tuple(family.input_shape)
    for i in range(len(bounds) - 1):
        name = f"mp{i}"
        model = segment_model(family, segs[bounds[i] : bounds[i + 1]], in_shape, name)
        P.copy_weights(model, trained)
        tflite = P.convert_model(model, x, name)
        io = P.io_of(tflite)
        P.write_part(
            run,
            name,
            model,
            tflite,
            {
                "kind": "mp part",
                "part_index": i,
                "segments": [s for s, _ in segs[bounds[i] : bounds[i + 1]]],
            },
            measure,
        )
        parts.append(
            {
                "name": name,
                "artefact": f"models/{name}.tflite",
                "reply": "tensor",
                "k": 0,
                "stages": 1,
                **io,
            }
        )
        x = P.float_features(model, x)
        in_shape = tuple(x.shape[1:])
        bar.update()
    return {
        "parts": parts,
        "cuts": [{"after": segs[c][0], "shape": list(shapes[c])} for c in cut_at],
    }


def steps(options: dict) -> int:
    return int(options["cuts"]) + 1


class MpStrategy(Strategy):
    """Parts in a chain; one missing part leaves no answer."""

    name = "mp"

    @property
    def steps(self) -> int:
        return len(self.parts)

    def plan(self, image: np.ndarray) -> Plan:
        first = self.parts[0]
        x = self.image_tensor(first, image)
        for i, part in enumerate(self.parts):
            (reply,) = yield [Call(part.name, 0, x)]
            if reply is None:
                missing = tuple(p.name for p in self.parts[i:])
                return Outcome(
                    None,
                    None,
                    (part.name,),
                    FAILED,
                    f"{missing_note([part.name])}: parts {', '.join(missing)} cannot run",
                )
            if i + 1 < len(self.parts):
                nxt = self.parts[i + 1]
                x = requantize(
                    reply,
                    part.output["scale"],
                    part.output["zero_point"],
                    nxt.input["scale"],
                    nxt.input["zero_point"],
                ).reshape(-1)
        last = self.parts[-1]
        scores = dequantize(reply, last.output["scale"], last.output["zero_point"])
        return Outcome(int(np.argmax(scores)), scores, (), OK, "")


STRATEGY = MpStrategy
