"""Training recipes beyond the plain joint loss: distillation from a teacher, member diversity.

Each variant i gets one output ``member_<i>`` whose loss is

    d_i(x) * [(1 - lam_e) * CE(y, p_i) + lam_e * T^2 * KL(q_T || p_i,T)]

with q_T = softmax(z_teacher / T) the teacher's tempered distribution (Hinton et al. 2015),
p_i,T = softmax(log p_i / T) (equal to softmax(z_i / T): the softmax constant cancels),
lam_e the distillation weight of epoch e (constant, or ramped from 0 to lam over the budget)
and d_i(x) the member's own bootstrap draw of each image (Poisson(1), seeded per member;
1 without ``member_draws``). Optionally, negative-correlation learning (Liu & Yao 1999) adds

    - gamma * mean_x sum_i ||p_i - p_mean||^2

which rewards members for spreading around the ensemble mean. The teacher is a frozen
sub-model of the same graph (inference mode), so its outputs come from the batch in memory.
The per-variant probability outputs stay (weight 0) for the accuracy metrics and the
ensemble term; the variants themselves are the same Keras models the plain recipe trains.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from vp_edge import models
from vp_edge.errors import TrainingError
from vp_edge.family import Family

MEMBER = "member_"
DIVERSITY = "diversity"
PACK = "_pack"
SCHEDULES = ("constant", "ramp")
LOG_FLOOR = 1e-30  # log-probabilities below ln(1e-30) = -69 do not move a tempered softmax


def kd_lambda(weight: float, schedule: str, epoch: int, epochs: int) -> float:
    """Distillation weight of ``epoch`` (0-based): constant, or 0 at the first epoch to
    ``weight`` at the last (soft targets only once the members have learnt the labels)."""
    if schedule not in SCHEDULES:
        raise TrainingError(f"kd schedule must be one of {SCHEDULES}, got {schedule!r}")
    if schedule == "constant" or epochs <= 1:
        return weight
    return weight * min(1.0, epoch / (epochs - 1))


def member_loss_np(
    y: np.ndarray,
    logp: np.ndarray,
    teacher_logp: np.ndarray | None,
    lam: float,
    temperature: float,
    draw: np.ndarray | None = None,
) -> np.ndarray:
    """The per-image member loss in numpy (the reference the Keras loss is tested against)."""
    logp = logp - np.log(np.exp(logp).sum(axis=1, keepdims=True))
    ce = -logp[np.arange(len(y)), y.astype(int)]
    loss = ce
    if teacher_logp is not None:
        q = _softmax_np(teacher_logp / temperature)
        log_s = np.log(_softmax_np(logp / temperature))
        kl = np.sum(q * (np.log(np.maximum(q, 1e-30)) - log_s), axis=1)
        loss = (1 - lam) * ce + lam * temperature**2 * kl
    return loss * (1.0 if draw is None else draw)


def _softmax_np(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _register() -> tuple[type, type, type]:
    """Define the Keras classes once (lazily: TensorFlow is a training-only dependency)."""
    keras = models._keras()
    return _member_pack(keras), _member_loss(keras), _ncl_loss(keras)


def _member_pack(keras: Any) -> type:
    """The layer that packs what the member loss needs."""
    ops = keras.ops

    @keras.saving.register_keras_serializable(package="vp_edge")
    class MemberPack(keras.layers.Layer):
        """[log p_i | log q_teacher | lam]: what the member loss needs, in one tensor.

        ``lam`` is a non-trainable weight set at each epoch's start (and saved with the
        checkpoint, so a resumed run continues the schedule).
        """

        def build(self, input_shape: Any) -> None:
            self.lam = self.add_weight(shape=(), initializer="zeros", trainable=False, name="lam")

        def call(self, inputs: list) -> Any:
            logs = [ops.log(ops.maximum(p, LOG_FLOOR)) for p in inputs]
            lam = ops.ones_like(logs[0][:, :1]) * self.lam
            return ops.concatenate(logs + [lam], axis=-1)

    return MemberPack


def _member_loss(keras: Any) -> type:
    """The member loss: bootstrap-weighted CE, or CE and distillation."""
    ops = keras.ops

    @keras.saving.register_keras_serializable(package="vp_edge")
    class MemberLoss(keras.losses.Loss):
        """y_true = [label, draw]; y_pred = MemberPack's output (see the module docstring)."""

        def __init__(self, classes: int, temperature: float = 1.0, kd: bool = False, **kw):
            super().__init__(**kw)
            self.classes, self.temperature, self.kd = classes, temperature, kd

        def call(self, y_true: Any, y_pred: Any) -> Any:
            c, t = self.classes, self.temperature
            label = ops.cast(y_true[:, 0], "int32")
            draw = y_true[:, 1]
            logp = ops.log_softmax(y_pred[:, :c], axis=-1)
            ce = -ops.sum(ops.one_hot(label, c) * logp, axis=-1)
            if not self.kd:
                return draw * ce
            lam = y_pred[:, -1]
            q = ops.stop_gradient(ops.softmax(y_pred[:, c : 2 * c] / t, axis=-1))
            log_s = ops.log_softmax(y_pred[:, :c] / t, axis=-1)
            kl = ops.sum(q * (ops.log(ops.maximum(q, 1e-30)) - log_s), axis=-1)
            return draw * ((1.0 - lam) * ce + lam * t * t * kl)

        def get_config(self) -> dict:
            return {
                **super().get_config(),
                "classes": self.classes,
                "temperature": self.temperature,
                "kd": self.kd,
            }

    return MemberLoss


def _ncl_loss(keras: Any) -> type:
    """The negative-correlation loss."""
    ops = keras.ops

    @keras.saving.register_keras_serializable(package="vp_edge")
    class NCLLoss(keras.losses.Loss):
        """Negative correlation: minus the members' mean squared spread around their mean."""

        def __init__(self, members: int, classes: int, **kw):
            super().__init__(**kw)
            self.members, self.classes = members, classes

        def call(self, y_true: Any, y_pred: Any) -> Any:
            p = ops.reshape(y_pred, (-1, self.members, self.classes))
            spread = ops.sum(ops.square(p - ops.mean(p, axis=1, keepdims=True)), axis=(1, 2))
            return -spread / self.members

        def get_config(self) -> dict:
            return {**super().get_config(), "members": self.members, "classes": self.classes}

    return NCLLoss


_CLASSES: tuple[type, type, type] | None = None


def keras_classes() -> tuple[type, type, type]:
    global _CLASSES
    if _CLASSES is None:
        _CLASSES = _register()
    return _CLASSES


def build(
    family: Family,
    teacher: Any | None,
    ensemble: bool,
    augment: bool,
    ncl: bool,
) -> tuple[Any, Any, list[str]]:
    """The training graph, the plain joint model sharing its variants (what is saved), and
    the graph's output names."""
    keras = models._keras()
    pack_cls, _, _ = keras_classes()
    variants = {v.name: models.variant_model(family, v) for v in family.variants}
    inp = keras.Input(shape=family.input_shape, name="input")
    probs = {n: m(models.augmentation(n)(inp) if augment else inp) for n, m in variants.items()}
    outs = dict(probs)
    if ensemble:
        outs["ensemble"] = keras.layers.Average(name="ensemble")(list(probs.values()))
    t = None
    if teacher is not None:
        if tuple(teacher.input_shape[1:]) != tuple(family.input_shape):
            raise TrainingError(
                f"the teacher takes {teacher.input_shape[1:]} inputs, family {family.name!r} "
                f"{family.input_shape}; use a teacher trained on the same data"
            )
        teacher.trainable = False
        t = teacher(inp, training=False)
    for n, p in probs.items():
        outs[MEMBER + n] = pack_cls(name=n + PACK)([p] if t is None else [p, t])
    if ncl:
        outs[DIVERSITY] = keras.layers.Concatenate(name=DIVERSITY)(list(probs.values()))
    model = keras.Model(inp, outs, name=f"{family.name}_recipe")
    export = models.joint_model(family, variants, ensemble=ensemble, augment=augment)
    return model, export, list(outs)


def losses(
    outputs: list[str], classes: int, members: int, kd: bool, temperature: float, weights: dict
) -> tuple[dict, dict]:
    """Loss and loss-weight dicts for ``build``'s outputs (``weights``: ensemble, ncl)."""
    _, member_cls, ncl_cls = keras_classes()
    loss, weight = {}, {}
    for o in outputs:
        if o.startswith(MEMBER):
            loss[o], weight[o] = member_cls(classes, temperature, kd), 1.0
        elif o == DIVERSITY:
            loss[o], weight[o] = ncl_cls(members, classes), weights["ncl"]
        else:  # a variant's probabilities (metrics only) or the ensemble term
            loss[o] = "sparse_categorical_crossentropy"
            weight[o] = weights["ensemble"] if o == "ensemble" else 0.0
    return loss, weight


def targets(outputs: list[str], y: np.ndarray, seed: int | None) -> dict[str, np.ndarray]:
    """Labels per output; member outputs carry [label, draw] (draws only with ``seed``)."""
    out: dict[str, np.ndarray] = {}
    members = [o for o in outputs if o.startswith(MEMBER)]
    for o in outputs:
        if o in members:
            draw = np.ones(len(y), np.float32)
            if seed is not None:
                rng = np.random.default_rng([seed, members.index(o)])
                draw = rng.poisson(1.0, len(y)).astype(np.float32)
            out[o] = np.stack([y.astype(np.float32), draw], axis=1)
        else:
            out[o] = y
    return out


def schedule_callback(weight: float, schedule: str, epochs: int) -> Any:
    """Keras callback: set every MemberPack's lam at each epoch's start."""
    keras = models._keras()

    class _Schedule(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            lam = kd_lambda(weight, schedule, epoch, epochs)
            for layer in self.model.layers:
                if layer.name.endswith(PACK):
                    layer.lam.assign(lam)

    return _Schedule()


def has_accuracy(output: str) -> bool:
    """Outputs that are class probabilities (accuracy metrics make sense)."""
    return not output.startswith(MEMBER) and output != DIVERSITY


def export_of(model: Any, family: Family, ensemble: bool, augment: bool) -> Any:
    """The plain joint model over a (loaded) recipe graph's variants: what gets saved."""
    variants = {v.name: model.get_layer(v.name) for v in family.variants}
    return models.joint_model(family, variants, ensemble=ensemble, augment=augment)


def baseline_signature(family: Family) -> tuple:
    """What the baseline's architecture depends on: equal signatures, interchangeable weights."""
    return (
        tuple(family.input_shape),
        family.num_classes,
        family.max_resolution,
        family.stem_stride,
        family.output_stride,
        family.resize,
        family.dropout,
    )


def write_teacher(run: Path, source: Path, weights: Path) -> dict:
    """Record which weights taught this run (``teacher.json``): run, file and its digest."""
    doc = {
        "run": str(source),
        "weights": str(weights),
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
    }
    (run / "teacher.json").write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def describe(config: Any) -> str:
    """A short name of the recipe a run used (tables, claims): e.g. 'kd(0.5,T=2,ramp)+ncl(0.5)'."""
    parts = ["joint" + (f"+ens({config.ensemble_weight:g})" if config.ensemble_weight else "")]
    if config.teacher is not None:
        parts.append(f"kd({config.kd_weight:g},T={config.kd_temperature:g},{config.kd_schedule})")
    if config.ncl_weight > 0:
        parts.append(f"ncl({config.ncl_weight:g})")
    if config.member_draws:
        parts.append("draws")
    if config.augment:
        parts.append("augment")
    return "+".join(parts)
