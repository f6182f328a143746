"""Cached int8 outputs of a model on a test set, keyed by model and data fingerprints.

Conversion already runs every model over the test set; evaluation reuses those
outputs only when both the .tflite (SHA-256) and the test data are unchanged.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np


def data_fingerprint(x: np.ndarray, y: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()


def save_outputs(path: Path, outputs: np.ndarray, model_sha: str, data_sha: str) -> None:
    np.savez_compressed(path, outputs=outputs, model_sha=model_sha, data_sha=data_sha)


def load_outputs(path: Path, model_sha: str, data_sha: str) -> np.ndarray | None:
    """The cached outputs, or None when absent or stale."""
    if not path.exists():
        return None
    with np.load(path) as z:
        if str(z["model_sha"]) != model_sha or str(z["data_sha"]) != data_sha:
            return None
        return z["outputs"]
