"""One picture to a model's input shape (grey or colour, resized), the same for files and arrays.

The gateway, the classify command and the image-folder loader share these, so a picture
classified live is the picture evaluated offline. Pillow is imported only when a picture is read
or resized.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vp_edge.errors import DataError


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow is in the test environment
        raise DataError('images need Pillow: pip install "vp-edge[images]"') from exc
    return Image


def check_shape(input_shape: Any) -> tuple[int, int, int]:
    try:
        h, w, c = (int(v) for v in input_shape)
    except (TypeError, ValueError) as exc:
        raise DataError(f"input_shape must be (H, W, C); got {input_shape!r}") from exc
    if h < 1 or w < 1 or c not in (1, 3):
        raise DataError(f"input_shape must be (H, W, C), H, W >= 1, C 1 or 3; got {input_shape!r}")
    return h, w, c


def _to_gray(a: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma with Pillow's integer weights, so arrays and files agree bit for bit."""
    r, g, b = (a[..., i].astype(np.uint32) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)[..., None]


GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def fit_notes(size: tuple[int, int], mode: str, input_shape: tuple[int, int, int]) -> list[str]:
    """What ``fit_image`` does to a picture of ``size`` (W, H) in Pillow ``mode``, in words: a
    caller that changed a user's input says so instead of answering as if nothing happened."""
    h, w, c = check_shape(input_shape)
    notes = []
    if c == 1 and mode not in GREY_MODES:
        notes.append(f"converted from colour ({mode}) to grey")
    elif c == 3 and mode in GREY_MODES:
        notes.append("grey repeated to 3 colour channels")
    if "A" in mode:
        notes.append("transparency dropped")
    if tuple(size) != (w, h):
        aspect = "" if size[0] * h == size[1] * w else ", aspect ratio not kept"
        notes.append(f"resized {size[0]}x{size[1]} -> {w}x{h} (bilinear{aspect})")
    return notes


def fit_image(img: np.ndarray, input_shape: tuple[int, int, int]) -> np.ndarray:
    """Bring one uint8 image (H, W[, C]) to ``input_shape`` so any picture can be classified."""
    h, w, c = check_shape(input_shape)
    a = np.asarray(img)
    if a.dtype != np.uint8:
        raise DataError(f"image must be uint8 (0..255); got {a.dtype}; scale and cast it first")
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
        raise DataError(f"image must be (H, W) or (H, W, C) with C 1, 3 or 4; got shape {a.shape}")
    a = a[..., :3]  # drop alpha
    if c == 1 and a.shape[-1] == 3:
        a = _to_gray(a)
    elif c == 3 and a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    if a.shape[:2] != (h, w):
        image = _pil().fromarray(a[..., 0] if c == 1 else a)
        a = np.asarray(image.resize((w, h), _pil().Resampling.BILINEAR)).reshape(h, w, c)
    return np.ascontiguousarray(a)


def load_image(path: Path, input_shape: tuple[int, int, int]) -> np.ndarray:
    """Read one PNG/JPEG into uint8 ``input_shape``; the gateway and folder loader share this."""
    path, (_, _, c) = Path(path), check_shape(input_shape)
    image_mod = _pil()
    if not path.is_file():
        raise DataError(f"{path}: no such image file; check the path")
    try:
        with image_mod.open(path) as im:
            a = np.asarray(im.convert("L" if c == 1 else "RGB"))
    except (OSError, ValueError, image_mod.DecompressionBombError) as exc:
        raise DataError(f"{path}: cannot read image ({exc}); use a valid PNG or JPEG file") from exc
    return fit_image(a, input_shape)
