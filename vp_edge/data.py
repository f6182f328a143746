"""Data loaders: Fashion-MNIST (Debian IDX files), IDX folders, image-folder trees and .npz.

Every source ends in the same :class:`Splits` of uint8 NHWC arrays, so training, conversion
and the gateway never care where the pixels came from. numpy is the only hard dependency;
Pillow is imported lazily, only for image files and resizing. Every failure is a
:class:`DataError` that names the thing at fault and says what to do.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vp_edge.errors import DataError
from vp_edge.idx import read_idx as read_idx  # re-exported: where users import it from
from vp_edge.images import check_shape, fit_image, load_image
from vp_edge.images import fit_notes as fit_notes  # re-exported, as read_idx

FASHION_MNIST_ENV = "VP_EDGE_FASHION_MNIST"
FASHION_MNIST_DIR = Path(os.environ.get(FASHION_MNIST_ENV) or "/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")  # fmt: skip
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
IDX_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")  # fmt: skip
_LAYOUTS = (
    "IDX files (train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz], optional t10k-*), "
    "class folders (<root>/<class_name>/*.png|jpg|jpeg, optionally under <root>/train and "
    "<root>/test), or a .npz file with x and y"
)

Pair = tuple[np.ndarray, np.ndarray]
Names = tuple[str, ...] | None


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images and labels in the one layout every model expects: uint8 (N, H, W, C), int64 (N,)."""

    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", tuple(self.class_names))
        if self.x.ndim != 4 or self.x.dtype != np.uint8:
            raise DataError(f"x must be uint8 (N, H, W, C); got {self.x.dtype} {self.x.shape}")
        if self.y.dtype != np.int64 or self.y.shape != (len(self.x),):
            raise DataError(f"y must be int64 (N,) with N={len(self.x)}; got {self.y.shape}")

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, n: int | None) -> Dataset:
        """The first ``n`` examples (None = all); splits are shuffled, so this is a fair sample."""
        if n is None:
            return self
        if n < 0:
            raise DataError(f"subset size must be >= 0 or None; got {n}")
        return Dataset(self.x[:n], self.y[:n], self.class_names)


@dataclass(frozen=True, eq=False)
class Splits:
    """Disjoint, stratified train/val/test of one source; ``source`` says where they came from."""

    train: Dataset
    val: Dataset
    test: Dataset
    source: str

    @property
    def num_classes(self) -> int:
        return len(self.train.class_names)


@dataclass(frozen=True)
class _Options:
    val_fraction: float
    test_fraction: float
    seed: int
    input_shape: tuple[int, int, int] | None

    def check(self) -> None:
        """Refuse fractions that would leave a split empty or eat the whole training set."""
        v, t = self.val_fraction, self.test_fraction
        if not 0 <= v < 1:
            raise DataError(f"val_fraction must be in [0, 1); got {v}")
        if not 0 < t < 1:
            raise DataError(f"test_fraction must be in (0, 1); got {t}")
        if v + t >= 1:
            raise DataError(f"val_fraction + test_fraction must be < 1; got {v} + {t}")


def _find_idx(root: Path, stem: str) -> Path | None:
    return next((root / n for n in (stem, stem + ".gz") if (root / n).is_file()), None)


def _load_idx_dir(root: Path, opts: _Options, names: Names, source: str,
                  default: tuple[str, ...] = ()) -> Splits:  # fmt: skip
    """IDX train files, plus t10k files as the test set when present (else test is carved)."""
    found = [_find_idx(root, s) for s in IDX_STEMS]
    for stem, path in zip(IDX_STEMS[:2], found[:2]):
        if path is None:
            raise DataError(f"{root}: missing {stem}[.gz]; an IDX folder needs {IDX_STEMS[:2]}")
    if (found[2] is None) != (found[3] is None):
        raise DataError(f"{root}: has only one of {IDX_STEMS[2:]} ([.gz]); give both or neither")
    train = (read_idx(found[0]), read_idx(found[1]))
    test = (read_idx(found[2]), read_idx(found[3])) if found[2] else None
    return _make_splits(train, test, names or None, default, opts, source)


def _class_dirs(root: Path) -> list[Path]:
    return sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _is_image_tree(root: Path) -> bool:
    return root.is_dir() and any(_images_in(d) for d in _class_dirs(root))


def _read_tree(root: Path, names: tuple[str, ...], shape: tuple[int, int, int]) -> Pair:
    """Every image of every class folder under ``root``; labels index into ``names``."""
    xs: list[np.ndarray] = []
    ys: list[int] = []
    for d in _class_dirs(root):
        if d.name not in names:
            raise DataError(f"{d}: class folder {d.name!r} is not among the classes {names}")
        files = _images_in(d)
        if not files:
            raise DataError(f"{d}: empty class folder (no .png/.jpg/.jpeg); add images or remove")
        xs += [load_image(p, shape) for p in files]
        ys += [names.index(d.name)] * len(files)
    return np.stack(xs), np.asarray(ys, np.int64)


def _load_folder(root: Path, opts: _Options, names: Names) -> Splits:
    """``root/<class>/*`` (or ``root/train`` + ``root/test``); classes sorted by folder name."""
    if opts.input_shape is None:
        raise DataError(
            f"{root}: image folders need input_shape=(H, W, C) so every image can be resized, "
            "e.g. input_shape=(32, 32, 3)"
        )
    split = _is_image_tree(root / "train")
    train_root = root / "train" if split else root
    found = tuple(d.name for d in _class_dirs(train_root))
    if len(found) < 2:
        raise DataError(f"{train_root}: {len(found)} class folder(s) {found}; need at least 2")
    if names is not None and sorted(names) != sorted(found):
        raise DataError(
            f"{train_root}: class folders {list(found)} do not match the family's class_names "
            f"{list(names)}; rename the folders or fix class_names in the family file"
        )
    names = tuple(names) if names is not None else found  # given order wins over sorted order
    train = _read_tree(train_root, names, opts.input_shape)
    test = None
    if split and (root / "test").is_dir():
        xt, yt = _read_tree(root / "test", names, opts.input_shape)
        order = np.random.default_rng(opts.seed).permutation(len(yt))  # folders are class-sorted
        test = (xt[order], yt[order])
    return _make_splits(train, test, names, (), opts, f"image folder ({root})")


def _load_npz(path: Path, opts: _Options, names: Names) -> Splits:
    """``x``, ``y`` and optional ``x_test``, ``y_test``, ``class_names`` from one .npz file."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read .npz ({exc}); re-create it with np.savez") from exc
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise DataError(
            f"{path}: missing key(s) {missing}, found {sorted(arrays)}; a .npz needs "
            "x (N, H, W[, C]) and y (N,), optionally x_test, y_test and class_names"
        )
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{path}: has only one of x_test / y_test; give both or neither")
    if "class_names" in arrays:
        own = tuple(str(s) for s in np.asarray(arrays["class_names"]).reshape(-1))
        names = check_class_names(own, names, f"{path}: class_names")
    test = (arrays["x_test"], arrays["y_test"]) if "x_test" in arrays else None
    return _make_splits((arrays["x"], arrays["y"]), test, names, (), opts, f"npz ({path})")


def check_class_names(found: tuple[str, ...], given: Names, where: str) -> tuple[str, ...]:
    """The source's own class order, refused when the family gives another (labels are a
    contract: index i must mean the same class in training, cards and serving)."""
    if given is not None and tuple(given) != tuple(found):
        raise DataError(
            f"{where} {list(found)} differ from the family's class_names {list(given)} (order "
            "matters: label i is the i-th name); make them equal or drop class_names from one"
        )
    return tuple(found)


def _as_pixels(x: Any, what: str) -> np.ndarray:
    """uint8 NHWC; whole numbers 0..255 in other dtypes are accepted, anything else is refused."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise DataError(f"{what}: images must be 3-D (N, H, W) or 4-D (N, H, W, C); got {x.shape}")
    if x.shape[-1] not in (1, 3):
        raise DataError(f"{what}: images must have 1 or 3 channels (N, H, W, C); got {x.shape}")
    if x.dtype == np.uint8:
        return x
    numeric = np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)
    whole = numeric and np.all(x == np.round(x)) and np.all((x >= 0) & (x <= 255))
    if not whole:
        raise DataError(f"{what}: pixels must be whole numbers 0..255; got {x.dtype}; use uint8")
    return x.astype(np.uint8)


def _as_labels(y: Any, n: int, what: str) -> np.ndarray:
    """int64 class indices, one per image; fractional or negative labels are refused."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"{what}: labels must be 1-D (N,); got shape {y.shape}")
    if len(y) != n:
        raise DataError(f"{what}: {n} images but {len(y)} labels; they must match one to one")
    if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{what}: labels must be integer class indices; got dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise DataError(f"{what}: negative label {y.min()}; labels must be class indices 0..C-1")
    return y.astype(np.int64)


def _check_pair(pair: Pair, what: str, shape: tuple[int, int, int] | None) -> Pair:
    x = _as_pixels(pair[0], what)
    y = _as_labels(pair[1], len(x), what)
    if shape is not None and x.shape[1:] != shape:
        x = np.stack([fit_image(i, shape) for i in x]) if len(x) else np.zeros((0, *shape), "u1")
    return x, y


def _resolve_names(names: Names, default: tuple[str, ...], pairs: list[Pair], source: str) -> Names:
    """Given names, else the source's own names, else "0".."C-1"; labels must index into them."""
    top = max((int(y.max()) + 1 for _, y in pairs if y.size), default=0)
    if names is None:
        names = default if len(default) >= top else tuple(str(i) for i in range(top))
    names = tuple(str(n) for n in names)
    if top > len(names):
        raise DataError(
            f"{source}: label {top - 1} out of range [0, {len(names)}) for {len(names)} classes; "
            "fix the labels or pass matching class_names"
        )
    if len(names) < 2:
        raise DataError(f"{source}: {len(names)} class(es); need at least 2 classes")
    return names


def _stratified(y: np.ndarray, num_classes: int, val_f: float, test_f: float,
                rng: np.random.Generator) -> tuple[np.ndarray, ...]:  # fmt: skip
    """Seeded per-class split: each class keeps its share in every split, train keeps >= 1."""
    parts: tuple[list[np.ndarray], ...] = ([], [], [])
    for c in range(num_classes):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = min(round(len(idx) * test_f), len(idx) - 1)
        n_val = min(round(len(idx) * val_f), len(idx) - 1 - n_test)
        parts[0].append(idx[n_test + n_val :])
        parts[1].append(idx[n_test : n_test + n_val])
        parts[2].append(idx[:n_test])
    train, val, test = (rng.permutation(np.concatenate(p)) for p in parts)
    return train, val, test


def _make_splits(train: Pair, test: Pair | None, names: Names, default: tuple[str, ...],
                 opts: _Options, source: str) -> Splits:  # fmt: skip
    """Validate, fit to input_shape, then carve val (and test when absent) out of train."""
    x, y = _check_pair(train, f"{source} train", opts.input_shape)
    checked = [(x, y)] + ([_check_pair(test, f"{source} test", opts.input_shape)] if test else [])
    if test and checked[1][0].shape[1:] != x.shape[1:]:
        raise DataError(f"{source}: train and test image shapes differ; pass input_shape")
    names = _resolve_names(names, default, checked, source)
    counts = np.bincount(y, minlength=len(names))
    if (counts == 0).any():
        c = int(np.flatnonzero(counts == 0)[0])
        raise DataError(
            f"{source}: class {c} ({names[c]!r}) has no examples in train; "
            "add examples or drop the class from class_names"
        )
    test_f = opts.test_fraction if test is None else 0.0
    rng = np.random.default_rng(opts.seed)
    tr, va, te = _stratified(y, len(names), opts.val_fraction, test_f, rng)
    if (opts.val_fraction > 0 and not len(va)) or (test is None and not len(te)):
        raise DataError(
            f"{source}: {len(y)} examples are too few to carve val/test splits; "
            "add data or lower val_fraction / test_fraction"
        )
    xt, yt = checked[1] if test else (x[te], y[te])
    sets = [Dataset(a, b, names) for a, b in ((x[tr], y[tr]), (x[va], y[va]), (xt, yt))]
    return Splits(*sets, source)


def _fashion_dir() -> Path:
    env = os.environ.get(FASHION_MNIST_ENV)
    return Path(env) if env else FASHION_MNIST_DIR


def load_dataset(
    source: str | Path | None = None,
    *,
    val_fraction: float = 0.1,
    test_fraction: float = 0.15,
    seed: int = 0,
    input_shape: tuple[int, int, int] | None = None,
    class_names: tuple[str, ...] | None = None,
) -> Splits:
    """Load any supported source into seeded, stratified, disjoint train/val/test splits."""
    shape = check_shape(input_shape) if input_shape is not None else None
    opts = _Options(val_fraction, test_fraction, seed, shape)
    opts.check()
    names = tuple(class_names) if class_names is not None else None
    if source is None or (isinstance(source, str) and source.lower() == "fashion-mnist"):
        root = _fashion_dir()
        if _find_idx(root, IDX_STEMS[0]) is None:
            raise DataError(
                f"Fashion-MNIST not found in {root}: install it with `apt-get install "
                "dataset-fashion-mnist` (or `make demo` / `make test` do it), set "
                f"{FASHION_MNIST_ENV} to a folder of IDX files, or pass a folder or .npz as source"
            )
        source = f"fashion-mnist ({root})"
        if names is not None:
            check_class_names(FASHION_MNIST_CLASSES, names, f"{source}: its classes")
        return _load_idx_dir(root, opts, names, source, FASHION_MNIST_CLASSES)
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or directory; expected {_LAYOUTS}")
    if path.is_dir():
        if any(_find_idx(path, s) for s in IDX_STEMS):
            return _load_idx_dir(path, opts, names, f"idx ({path})")
        if _is_image_tree(path / "train") or _is_image_tree(path):
            return _load_folder(path, opts, names)
        raise DataError(f"{path}: not a known data layout; expected {_LAYOUTS}")
    if path.suffix.lower() == ".npz":
        return _load_npz(path, opts, names)
    raise DataError(f"{path}: unsupported file type {path.suffix!r}; expected {_LAYOUTS}")
