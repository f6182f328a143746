"""A small generated image-folder data set of four shapes, and a family file for it.

The family's ``class_names`` order (circle, square, triangle, stripes) differs from the sorted
folder order (circle, square, stripes, triangle), which is what a loader that numbers classes
by folder name would use: a swapped label shows up as triangles served as "stripes".
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SHAPES = ("circle", "square", "triangle", "stripes")
SIZE = 28


def draw(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One 28x28 grey image of ``kind``: a bright shape of random size and place, with noise."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    r = rng.uniform(7, 11)
    cy, cx = rng.uniform(r + 1, SIZE - r - 1, 2)
    if kind == "circle":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    elif kind == "square":
        mask = (np.abs(yy - cy) <= r * 0.8) & (np.abs(xx - cx) <= r * 0.8)
    elif kind == "triangle":
        top, bottom = cy - r, cy + r
        half = (yy - top) / (2 * r) * r
        mask = (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half)
    else:
        period = int(rng.integers(4, 7))
        mask = ((yy + rng.integers(0, period)) // (period // 2)) % 2 == 0
    img = np.where(mask, rng.uniform(180, 255), rng.uniform(0, 60)).astype(np.float32)
    img += rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_shapes(root: Path, per_class: int, seed: int = 0) -> Path:
    """``root/<shape>/<i>.png`` for every shape."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for kind in SHAPES:
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(draw(kind, rng)).save(root / kind / f"{i:03d}.png")
    return root


def write_family(path: Path) -> Path:
    """Two small variants on 28x28 grey input, classes in an order that is not sorted."""
    fam = {
        "name": "shapes",
        "input_shape": [SIZE, SIZE, 1],
        "num_classes": len(SHAPES),
        "class_names": list(SHAPES),
        "variants": [
            {"name": "s16", "resolution": 16, "alpha": 0.35, "head": 32},
            {"name": "s24", "resolution": 24, "alpha": 0.35, "head": 48},
        ],
    }
    path.write_text(json.dumps(fam, indent=2) + "\n")
    return path


STRIPES = ("hstripes", "vstripes", "disc")
STRIPES_SIZE = 16


def draw_stripes(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One 16x16 grey image: horizontal or vertical stripes (period 4, 6 or 8, random phase)
    or a disc of random size and place, bright on dark, with noise."""
    s = STRIPES_SIZE
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    if kind == "disc":
        r = rng.uniform(3, 6)
        cy, cx = rng.uniform(r, s - r, 2)
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    else:
        period, phase = int(rng.integers(2, 5)) * 2, int(rng.integers(0, 8))
        mask = (((yy if kind == "hstripes" else xx) + phase) // (period // 2)) % 2 == 0
    img = np.where(mask, rng.uniform(170, 255), rng.uniform(0, 70)) + rng.normal(0, 10, (s, s))
    return np.clip(img, 0, 255).astype(np.uint8)


def write_stripes(root: Path, per_class: int = 80, seed: int = 0) -> Path:
    """``root/<class>/<i>.png`` for the three classes of issue 29's small data set."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for kind in STRIPES:
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(draw_stripes(kind, rng)).save(root / kind / f"{i:03d}.png")
    return root


def write_stripes_family(path: Path) -> Path:
    """Two small variants (r = 12 and 16) on the 16x16 grey input, three classes."""
    fam = {
        "name": "stripes",
        "input_shape": [STRIPES_SIZE, STRIPES_SIZE, 1],
        "num_classes": len(STRIPES),
        "class_names": list(STRIPES),
        "variants": [
            {"name": "s12", "resolution": 12, "alpha": 0.35, "head": 32},
            {"name": "s16", "resolution": 16, "alpha": 0.35, "head": 48},
        ],
    }
    path.write_text(json.dumps(fam, indent=2) + "\n")
    return path


if __name__ == "__main__":  # python tests/shapes_helpers.py DIR: the stripes set + its family
    import sys

    out = Path(sys.argv[1])
    write_stripes(out / "data")
    write_stripes_family(out / "stripes.json")
