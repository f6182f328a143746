"""DISCO's pruning keeps exactly ``keep`` of each cross kernel's channels, and a node's stage
(one conv over [own, received kept channels]) computes what the joint model computes."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.tf


def test_pruned_stages_equal_the_joint_model():
    pytest.importorskip("tensorflow")
    from vp_edge.family import load_family
    from vp_edge.strategies.disco import (
        WIDTHS,
        float_activations,
        joint_model,
        prune,
        stage_model,
    )
    from vp_edge.strategies.parts import keras

    keras().utils.set_random_seed(0)
    model = joint_model(load_family("tiny"), 0.0)
    kept = prune(model, 0.25)
    for layer in range(1, len(WIDTHS)):
        for src, dst in (("a", "b"), ("b", "a")):
            sel = kept[f"{layer}_{src}{dst}"]
            mask = model.get_layer(f"m{layer}_{src}{dst}").get_weights()[0]
            assert len(sel) == max(1, round(0.25 * (WIDTHS[layer - 1] // 2)))
            assert np.flatnonzero(mask).tolist() == sel
            w = model.get_layer(f"x{layer}_{src}{dst}").get_weights()[0]
            dropped = np.setdiff1d(np.arange(w.shape[2]), sel)
            assert not w[:, :, dropped, :].any()
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    act = float_activations(model, x)
    for node, other in (("a", "b"), ("b", "a")):
        for layer in (1, len(WIDTHS) - 1):
            sel = kept[f"{layer}_{other}{node}"]
            inp = np.concatenate(
                [act[f"{node}{layer - 1}"], act[f"{other}{layer - 1}"][..., sel]], axis=-1
            )
            got = stage_model(model, node, layer, sel, inp.shape[1:]).predict(inp, verbose=0)
            want = act[f"{node}{layer}"]
            if layer == len(WIDTHS) - 1:
                want = want.mean(axis=(1, 2))
            np.testing.assert_allclose(got, want, atol=1e-4)
