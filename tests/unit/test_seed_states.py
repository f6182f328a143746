"""Dropout's random states saved beside a checkpoint and put back on resume
(vp_edge/seed_states.py): Keras' own save leaves them out, so a model loaded from a checkpoint
would draw the first masks again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.tf


def _model():
    import keras

    inp = keras.Input((8,))
    return keras.Model(inp, keras.layers.Dropout(0.5, name="drop")(inp))


def test_a_loaded_checkpoint_draws_on_where_the_saved_model_was(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    import keras

    from vp_edge import seed_states

    keras.utils.set_random_seed(0)
    model = _model()
    x = np.ones((4, 8), "float32")
    model(x, training=True)  # one draw: the state has moved on
    ckpt = tmp_path / "m.keras"
    model.save(ckpt)
    seed_states.save(model, ckpt)
    expected = np.asarray(model(x, training=True))  # the next draw

    keras.utils.set_random_seed(0)
    loaded = keras.saving.load_model(ckpt)
    assert not np.array_equal(np.asarray(loaded(x, training=True)), expected)  # Keras alone

    keras.utils.set_random_seed(0)
    loaded = keras.saving.load_model(ckpt)
    assert seed_states.restore(loaded, ckpt)
    assert np.array_equal(np.asarray(loaded(x, training=True)), expected)


def test_missing_or_foreign_states_are_not_restored(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    import keras

    from vp_edge import seed_states

    model = _model()
    assert not seed_states.restore(model, tmp_path / "none.keras")
    inp = keras.Input((8,))
    other = keras.Model(inp, keras.layers.Dropout(0.5)(keras.layers.Dropout(0.5)(inp)))
    seed_states.save(other, tmp_path / "other.keras")
    assert not seed_states.restore(model, tmp_path / "other.keras")
