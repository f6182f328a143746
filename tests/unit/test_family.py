"""Family generation, family files, and parameter/MAC counts against Keras' own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vp_edge.errors import FamilyError
from vp_edge.family import (
    PAPER_MACS_RATIO,
    PAPER_PARAMS_RATIO,
    PRESETS,
    Family,
    Variant,
    grid,
    load_family,
    make_divisible,
    save_family,
)


def test_grid_follows_reference_head_widths():
    vs = grid([96, 128, 160], [0.35, 0.5])
    assert [(v.resolution, v.alpha, v.head) for v in vs[:3]] == [
        (96, 0.35, 256),
        (128, 0.35, 320),
        (160, 0.35, 384),
    ]
    assert len({v.name for v in vs}) == 6


def test_presets_differ_only_in_r_alpha_f():
    for fam in PRESETS.values():
        assert len({(v.resolution, v.alpha, v.head) for v in fam.variants}) == len(fam.variants)


def test_make_divisible_matches_mobilenet_rounding():
    assert make_divisible(32 * 0.35) == 16
    assert make_divisible(int(320 * 0.35)) == 112
    assert make_divisible(int(24 * 0.35)) == 8


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_family_file_round_trip(tmp_path, suffix):
    fam = PRESETS["tiny"]
    path = tmp_path / f"fam{suffix}"
    if suffix == ".json":
        save_family(fam, path)
    else:
        path.write_text(
            'name = "tiny"\ninput_shape = [28, 28, 1]\nnum_classes = 10\n'
            "class_names = " + json.dumps(list(fam.class_names)) + "\n"
            '[[variants]]\nname = "t16"\nresolution = 16\nalpha = 0.35\nhead = 32\n'
            '[[variants]]\nname = "t24"\nresolution = 24\nalpha = 0.35\nhead = 48\n'
        )
    assert load_family(path) == fam


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"num_classes": 1}, "num_classes"),
        ({"resize": "cubic"}, "resize"),
        ({"stem_stride": 3}, "stem_stride"),
        ({"output_stride": 8}, "output_stride"),
        ({"variants": ()}, "at least one variant"),
        ({"variants": (Variant("a", 16, 0.35, 8), Variant("a", 24, 0.35, 8))}, "unique"),
        ({"variants": (Variant("a b", 16, 0.35, 8),)}, "letters"),
        ({"variants": (Variant("a", 4, 0.35, 8),)}, "resolution"),
        ({"class_names": ("x",)}, "class_names"),
    ],
)
def test_invalid_families_are_refused(change, match):
    base = PRESETS["tiny"].to_dict()
    kwargs = {
        **{k: base[k] for k in ("name", "num_classes")},
        "input_shape": (28, 28, 1),
        "variants": PRESETS["tiny"].variants,
    }
    with pytest.raises(FamilyError, match=match):
        Family(**{**kwargs, **change})


def test_family_file_errors_name_the_problem(tmp_path):
    with pytest.raises(FamilyError, match="neither a preset"):
        load_family(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "input_shape": [28, 28, 1], "variants": []}')
    with pytest.raises(FamilyError, match="missing key 'num_classes'"):
        load_family(bad)
    bad.write_text("{not json")
    with pytest.raises(FamilyError, match="cannot read family file"):
        load_family(bad)


@pytest.mark.tf
def test_params_and_macs_match_keras():
    """Our backbone has exactly the parameters of keras.applications.MobileNetV2 minus Conv_1,
    and MACs counted on Keras layers equal those counted on the int8 graph (tests/integration)."""
    pytest.importorskip("tensorflow")
    import keras

    from converters.card import keras_macs
    from vp_edge import models

    fam = PRESETS["fashion"]
    for alpha in (0.35, 1.0):
        ref = keras.applications.MobileNetV2(
            input_shape=(32, 32, 1), alpha=alpha, include_top=False, weights=None
        )
        conv1 = sum(ref.get_layer(n).count_params() for n in ("Conv_1", "Conv_1_bn"))
        inp = keras.Input((32, 32, 1))
        ours = keras.Model(inp, models.backbone(inp, alpha, 2, "x_"))
        assert ours.count_params() == ref.count_params() - conv1
        assert keras_macs(ours) + keras_macs_of(ref, ["Conv_1"]) == keras_macs(ref)
    v = next(v for v in fam.variants if v.resolution >= 32)  # Keras refuses smaller inputs
    m = models.variant_model(fam, v)
    c_alpha = make_divisible(int(320 * v.alpha))
    ref = keras.applications.MobileNetV2(
        input_shape=(v.resolution, v.resolution, 1), alpha=v.alpha, include_top=False, weights=None
    )
    conv1 = sum(ref.get_layer(n).count_params() for n in ("Conv_1", "Conv_1_bn"))
    head = (c_alpha + 1) * v.head + 4 * v.head + (v.head + 1) * fam.num_classes
    assert m.count_params() == ref.count_params() - conv1 + head


def keras_macs_of(model, names):
    import keras

    from converters.card import keras_macs

    return sum(
        keras_macs(keras.Model(model.get_layer(n).input, model.get_layer(n).output)) for n in names
    )


@pytest.mark.tf
@pytest.mark.parametrize("preset", ["fashion", "fashion-a035"])
def test_shipped_families_keep_the_papers_cost_bounds(preset):
    """Every member of a family the demo trains has at least 5.8x fewer parameters and 4.3x
    fewer MACs than the baseline (the paper's variants span 5.8-7.1x and 4.3-31x)."""
    pytest.importorskip("tensorflow")
    from converters.card import keras_macs
    from vp_edge import models

    fam = PRESETS[preset]
    base = models.baseline_model(fam)
    base_params, base_macs = base.count_params(), keras_macs(base)
    for v in fam.variants:
        m = models.variant_model(fam, v)
        assert base_params / m.count_params() >= PAPER_PARAMS_RATIO, v.name
        assert base_macs / keras_macs(m) >= PAPER_MACS_RATIO, v.name


@pytest.mark.tf
def test_output_stride_16_keeps_weights_and_doubles_the_last_map():
    pytest.importorskip("tensorflow")
    import dataclasses

    from vp_edge import models

    fam32 = dataclasses.replace(PRESETS["fashion"], output_stride=32)
    fam16 = PRESETS["fashion"]
    v = fam16.variants[0]
    m32, m16 = models.variant_model(fam32, v), models.variant_model(fam16, v)
    assert m16.count_params() == m32.count_params()
    head = f"{v.name}_head"
    assert m16.get_layer(head).output.shape[1] == 2 * m32.get_layer(head).output.shape[1]


@pytest.mark.tf
def test_augmentation_is_training_only_and_outside_the_variants():
    pytest.importorskip("tensorflow")
    import numpy as np

    from vp_edge import models

    fam = PRESETS["tiny"]
    plain = models.joint_model(fam)
    aug = models.joint_model(fam, augment=True)
    assert plain.count_params() == aug.count_params()  # augmentation has no weights
    for v in fam.variants:  # what convert exports: the variant alone, no random layers
        names = {layer.name for layer in aug.get_layer(v.name).layers}
        assert not any("augment" in n or "random" in n for n in names)
    x = np.random.default_rng(0).random((4, *fam.input_shape), dtype=np.float32)
    aug.set_weights(plain.get_weights())
    a, b = aug(x, training=False), plain(x, training=False)
    for v in fam.variants:
        np.testing.assert_allclose(a[v.name], b[v.name], rtol=1e-6, atol=1e-6)
    shifted = aug.get_layer(f"{fam.variants[0].name}_augment")(x, training=True)
    assert not np.allclose(shifted, x)  # while training it does flip and shift


def test_the_family_files_in_docs_load_and_keep_the_smallest_variant():
    """docs/families/*.json are the README's alternative families: they must stay loadable,
    and each keeps the smallest input of the preset it varies, fashion or fashion-a035 (alpha
    and resolution: the MACs ratio is about it; fashion-wide widens every head, so its own
    ratios are stated beside it)."""
    files = sorted((Path(__file__).parents[2] / "docs" / "families").glob("*.json"))
    assert files
    smallest = {
        min((v.alpha, v.resolution) for v in PRESETS[p].variants)
        for p in ("fashion", "fashion-a035")
    }
    for f in files:
        fam = load_family(f)
        assert fam.input_shape == PRESETS["fashion"].input_shape
        assert smallest & {(v.alpha, v.resolution) for v in fam.variants}, f.name
