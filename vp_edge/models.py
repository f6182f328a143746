"""Keras builders for the variant family and the MobileNetV2 baseline.

TensorFlow is imported lazily: ``import vp_edge`` must work on a board that
only has numpy and LiteRT.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vp_edge.family import BLOCKS, Family, Variant, make_divisible

if TYPE_CHECKING:  # pragma: no cover
    import keras

BN_MOMENTUM = 0.9  # 0.999 (Keras' MobileNetV2 default) collapses short trainings
BN_EPSILON = 1e-3
AUG_SHIFT = 0.08  # of the image side: about 2 pixels of a 28x28 input


def _keras() -> Any:
    from converters.quiet import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def _conv_bn(
    x: Any, filters: int, kernel: int, stride: int, name: str, act: bool, zero_gamma: bool = False
) -> Any:
    layers = _keras().layers
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        name=f"{name}_bn",
        gamma_initializer="zeros" if zero_gamma else "ones",
    )(x)
    if act:
        x = layers.ReLU(6.0, name=f"{name}_relu")(x)
    return x


def _inverted_residual(x: Any, expansion: int, out_ch: int, stride: int, name: str) -> Any:
    layers = _keras().layers
    in_ch = x.shape[-1]
    y = x
    if expansion != 1:
        y = _conv_bn(y, expansion * in_ch, 1, 1, f"{name}_expand", act=True)
    y = layers.DepthwiseConv2D(
        3, strides=stride, padding="same", use_bias=False, name=f"{name}_dw"
    )(y)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_dw_bn")(y)
    y = layers.ReLU(6.0, name=f"{name}_dw_relu")(y)
    residual = stride == 1 and in_ch == out_ch
    # a residual block starts as the identity (its last BN's scale 0): a deep network then
    # trains like a shallow one in its first steps (Goyal et al. 2017), which a few dozen
    # steps on a small data set need
    y = _conv_bn(y, out_ch, 1, 1, f"{name}_project", act=False, zero_gamma=residual)
    if residual:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y


def backbone(x: Any, alpha: float, stem_stride: int, prefix: str, output_stride: int = 32) -> Any:
    """MobileNetV2 feature extractor up to block 16's projection (no ``Conv_1``).

    ``output_stride=16`` gives the last stride-2 stage stride 1 (same weights shapes).
    """
    x = _conv_bn(x, make_divisible(32 * alpha), 3, stem_stride, f"{prefix}stem", act=True)
    block = 0
    last_down = max(i for i, b in enumerate(BLOCKS) if b[3] == 2)
    for stage, (expansion, channels, repeats, stride) in enumerate(BLOCKS):
        if output_stride == 16 and stage == last_down:
            stride = 1
        out_ch = make_divisible(int(channels * alpha))
        for i in range(repeats):
            x = _inverted_residual(
                x, expansion, out_ch, stride if i == 0 else 1, f"{prefix}b{block}"
            )
            block += 1
    return x


def _resize(x: Any, family: Family, r: int, name: str) -> Any:
    layers = _keras().layers
    if (r, r) == tuple(family.input_shape[:2]):
        return x
    return layers.Resizing(r, r, interpolation=family.resize, name=name)(x)


def variant_model(family: Family, v: Variant) -> keras.Model:
    """One variant: raw input -> resize to r -> backbone(alpha) -> head(F) -> softmax."""
    keras = _keras()
    layers = keras.layers
    p = f"{v.name}_"
    inp = keras.Input(shape=family.input_shape, name=f"{p}input")
    x = _resize(inp, family, v.resolution, f"{p}resize")
    x = backbone(x, v.alpha, family.stem_stride, p, family.output_stride)
    x = layers.Conv2D(v.head, 1, use_bias=True, name=f"{p}head")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{p}head_bn")(x)
    x = layers.ReLU(name=f"{p}head_relu")(x)
    x = layers.GlobalAveragePooling2D(name=f"{p}pool")(x)
    x = layers.Dropout(family.dropout, name=f"{p}dropout")(x)
    x = layers.Dense(family.num_classes, name=f"{p}logits")(x)
    out = layers.Softmax(name=f"{p}softmax")(x)
    return keras.Model(inp, out, name=v.name)


def baseline_model(family: Family) -> keras.Model:
    """MobileNetV2 alpha=1.0 at the family's largest resolution, standard 1280-wide top."""
    keras = _keras()
    layers = keras.layers
    r = max(v.resolution for v in family.variants)
    inp = keras.Input(shape=family.input_shape, name="baseline_input")
    x = _resize(inp, family, r, "baseline_resize")
    x = backbone(x, 1.0, family.stem_stride, "baseline_", family.output_stride)
    x = _conv_bn(x, 1280, 1, 1, "baseline_conv1", act=True)
    x = layers.GlobalAveragePooling2D(name="baseline_pool")(x)
    x = layers.Dropout(family.dropout, name="baseline_dropout")(x)
    x = layers.Dense(family.num_classes, name="baseline_logits")(x)
    out = layers.Softmax(name="baseline_softmax")(x)
    return keras.Model(inp, out, name="baseline")


def augmentation(name: str) -> keras.Model:
    """Training-only augmentation: horizontal flip and shifts of up to 8 % of the image.

    Active only when training (Keras' random layers pass inputs through at inference), and
    never part of an exported variant: it sits in the training graph in front of the model.
    """
    keras = _keras()
    layers = keras.layers
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal"),
            layers.RandomTranslation(AUG_SHIFT, AUG_SHIFT, fill_mode="constant"),
        ],
        name=f"{name}_augment",
    )


def joint_model(
    family: Family,
    variants: dict[str, keras.Model] | None = None,
    ensemble: bool = False,
    augment: bool = False,
) -> keras.Model:
    """All variants on one shared input, one output per variant (trained together).

    With ``ensemble`` an extra output "ensemble" averages the variants'
    probabilities, for the optional ensemble term of the loss. With ``augment``
    each variant sees its own random flip and shift of the shared input.
    """
    keras = _keras()
    variants = variants or {v.name: variant_model(family, v) for v in family.variants}
    inp = keras.Input(shape=family.input_shape, name="input")
    outs = {name: m(augmentation(name)(inp) if augment else inp) for name, m in variants.items()}
    if ensemble:
        outs["ensemble"] = keras.layers.Average(name="ensemble")(list(outs.values()))
    return keras.Model(inp, outs, name=f"{family.name}_joint")
