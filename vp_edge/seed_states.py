"""The random draws of Dropout (and of augmentation) continue where they were on resume.

Keras draws every Dropout mask, flip and shift from a seed generator of its layer whose state
advances by one at each draw. ``model.save`` keeps weights and optimiser but not these states
(Keras 3.15: ``Layer.save_own_variables`` stores trainable and non-trainable variables only),
so a resumed run drew the first epoch's masks again: on the stripes set of docs/training.md
(80 images per class, 3 epochs, interrupted in epoch 2) the resumed run's epoch-2 validation
loss was 1.43708 against 1.42525 uninterrupted. The states are saved beside each checkpoint
and put back when it is loaded.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

LOG = logging.getLogger(__name__)


def path_for(checkpoint: Path) -> Path:
    """Where the states of ``checkpoint`` (``NAME.keras``) live: ``NAME.seeds.npz``."""
    return checkpoint.with_suffix(".seeds.npz")


def _generators(model: Any) -> dict[str, Any]:
    """Every seed generator of ``model``, keyed by layer order, layer name and index."""
    out = {}
    for n, layer in enumerate(model._flatten_layers()):
        for i, sg in enumerate(getattr(layer, "_seed_generators", [])):
            out[f"{n:04d}:{layer.name}:{i}"] = sg
    return out


def save(model: Any, checkpoint: Path) -> None:
    """Write the seed generators' states of ``model`` beside ``checkpoint``."""
    states: dict[str, Any] = {k: np.asarray(sg.state.value) for k, sg in _generators(model).items()}
    tmp = path_for(checkpoint).with_suffix(".tmp.npz")
    np.savez(tmp, **states)
    tmp.replace(path_for(checkpoint))


def restore(model: Any, checkpoint: Path) -> bool:
    """Put back the states saved with ``checkpoint``; False (and a warning) when there are none
    or they belong to another model, in which case the resumed draws differ from a run that
    was not interrupted."""
    path = path_for(checkpoint)
    gens = _generators(model)
    if not gens:
        return True
    if not path.exists():
        LOG.warning(
            "%s: no saved random states; resumed draws differ from an uninterrupted run", path
        )
        return False
    with np.load(path) as saved:
        if set(saved.files) != set(gens):
            LOG.warning("%s: random states of another model; not restored", path)
            return False
        for k, sg in gens.items():
            sg.state.assign(saved[k])
    return True
