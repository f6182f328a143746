"""BatchNormalization statistics re-estimated from the training data (vp_edge/bn_refresh.py):
after a refresh, inference mode normalises with the data's own mean and variance, whatever the
moving averages held before (their initial 0 and 1 here, as after a handful of steps)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.tf


def test_refresh_sets_moving_statistics_to_the_training_data_s():
    pytest.importorskip("tensorflow")
    import keras

    from vp_edge.bn_refresh import callback, refresh_bn_statistics, sample

    rng = np.random.default_rng(0)
    x = (5.0 + 3.0 * rng.standard_normal((256, 4, 4, 2))).astype("float32")
    inp = keras.Input((4, 4, 2))
    bn = keras.layers.BatchNormalization(momentum=0.9)
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(bn(inp)))
    assert np.allclose(bn.moving_mean, 0) and np.allclose(bn.moving_variance, 1)

    n = refresh_bn_statistics(model, x, 64)
    assert n == 4 and bn.momentum == 0.9  # the layer's own momentum is back
    batches = x.reshape(4, 64, 4, 4, 2)
    assert np.allclose(bn.moving_mean, batches.mean(axis=(1, 2, 3)).mean(axis=0), atol=1e-4)
    assert np.allclose(bn.moving_variance, batches.var(axis=(1, 2, 3)).mean(axis=0), rtol=1e-3)
    out = np.asarray(model(x, training=False))
    assert abs(out.mean()) < 0.05  # inference now centres the data as training mode does

    assert len(sample(x, seed=1, limit=100)) == 100 and sample(x, 1, 999) is x
    assert np.array_equal(sample(x, 3, 50), sample(x, 3, 50))  # the same images for a seed

    cb = callback(x[:128] * 2.0, 32)  # as Keras calls it when a validation begins
    cb.set_model(model)
    cb.on_test_begin()
    cb.on_test_begin()  # the compiled pass is reused
    assert np.allclose(bn.moving_mean, (x[:128] * 2.0).mean(axis=(0, 1, 2)), atol=1e-3)
