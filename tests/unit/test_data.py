"""Data loaders: every source gives the same uint8 NHWC splits, and every bad input a DataError."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from vp_edge.data import (
    FASHION_MNIST_DIR,
    Dataset,
    Splits,
    fit_image,
    load_dataset,
    load_image,
    read_idx,
)
from vp_edge.errors import DataError

Image = pytest.importorskip("PIL.Image")

HAVE_FASHION = (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file()
NO_FASHION = f"Fashion-MNIST not in {FASHION_MNIST_DIR}: apt-get install dataset-fashion-mnist"
needs_fashion = pytest.mark.skipif(not HAVE_FASHION, reason=NO_FASHION)


def make_xy(per_class: int = 10, classes: int = 3, size: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Unique images (pixel 0/1 encode the index) so overlaps between splits can be detected."""
    n = per_class * classes
    x = np.zeros((n, size, size), np.uint8)
    x[:, 0, 0], x[:, 0, 1] = np.arange(n) % 256, np.arange(n) // 256
    return x, np.arange(n, dtype=np.int64) % classes


def ids(d: Dataset) -> set[int]:
    return set((d.x[:, 0, 0, 0].astype(int) + 256 * d.x[:, 0, 1, 0].astype(int)).tolist())


def write_idx(path: Path, arr: np.ndarray) -> Path:
    """An IDX file as the MNIST tools write it; gzip when the name ends in .gz."""
    arr = np.asarray(arr, np.uint8)
    data = struct.pack(">I", 0x0800 + arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
    data += arr.tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_idx_dir(root: Path, x, y, xt=None, yt=None, gz: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    write_idx(root / f"train-images-idx3-ubyte{ext}", x)
    write_idx(root / f"train-labels-idx1-ubyte{ext}", y)
    if xt is not None:
        write_idx(root / f"t10k-images-idx3-ubyte{ext}", xt)
        write_idx(root / f"t10k-labels-idx1-ubyte{ext}", yt)
    return root


def write_folder(root: Path, counts: dict[str, int], size: int = 10) -> Path:
    """Small PNGs of mixed mode and size, so the loader must convert and resize."""
    rng = np.random.default_rng(0)
    for name, n in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            shape = (size + i, size, 3) if i % 2 else (size, size + i)
            pixels = rng.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def check_splits(s: Splits, shape: tuple[int, ...], classes: int) -> None:
    for d in (s.train, s.val, s.test):
        assert d.x.dtype == np.uint8 and d.y.dtype == np.int64
        assert d.x.shape[1:] == shape and len(d.x) == len(d.y)
    assert s.num_classes == classes


# ---------------------------------------------------------------------------- Fashion-MNIST


@pytest.fixture(scope="module")
def fashion() -> Splits:
    if not HAVE_FASHION:
        pytest.skip(NO_FASHION)
    return load_dataset()


@needs_fashion
def test_fashion_default_shapes_and_official_test_set(fashion: Splits) -> None:
    check_splits(fashion, (28, 28, 1), 10)
    assert len(fashion.test) == 10_000 and len(fashion.train) + len(fashion.val) == 60_000
    assert fashion.train.class_names[0] == "T-shirt/top" and "fashion-mnist" in fashion.source


@needs_fashion
def test_fashion_val_is_stratified(fashion: Splits) -> None:
    assert np.bincount(fashion.val.y).tolist() == [600] * 10
    assert np.bincount(fashion.train.y).tolist() == [5400] * 10


@needs_fashion
def test_fashion_is_deterministic_for_a_seed(fashion: Splits) -> None:
    again = load_dataset("fashion-mnist", seed=0)
    for name in ("train", "val", "test"):
        old, new = getattr(fashion, name), getattr(again, name)
        assert np.array_equal(old.x, new.x) and np.array_equal(old.y, new.y)


def test_fashion_missing_says_how_to_install(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("VP_EDGE_FASHION_MNIST", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_dataset()


# ---------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
def test_idx_round_trip(tmp_path, name) -> None:
    x = np.random.default_rng(1).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    assert np.array_equal(read_idx(write_idx(tmp_path / name, x)), x)
    y = np.arange(7, dtype=np.uint8)
    assert np.array_equal(read_idx(write_idx(tmp_path / ("l" + name), y)), y)


def test_idx_dir_without_t10k_carves_a_stratified_disjoint_test(tmp_path) -> None:
    x, y = make_xy(per_class=20, classes=4)
    s = load_dataset(write_idx_dir(tmp_path, x, y, gz=False), val_fraction=0.1, test_fraction=0.25)
    check_splits(s, (6, 6, 1), 4)
    assert np.bincount(s.test.y).tolist() == [5] * 4 and np.bincount(s.val.y).tolist() == [2] * 4
    parts = [ids(s.train), ids(s.val), ids(s.test)]
    assert sum(map(len, parts)) == len(set().union(*parts)) == len(x)
    assert s.train.class_names == ("0", "1", "2", "3") and s.source.startswith("idx")


def test_idx_dir_with_t10k_keeps_test_and_fits_input_shape(tmp_path) -> None:
    x, y = make_xy()
    xt, yt = make_xy(per_class=2)
    s = load_dataset(write_idx_dir(tmp_path, x, y, xt, yt), input_shape=(8, 8, 3))
    check_splits(s, (8, 8, 3), 3)
    assert len(s.test) == 6 and np.array_equal(s.test.y, yt)


def test_same_seed_same_splits_other_seed_differs(tmp_path) -> None:
    root = write_idx_dir(tmp_path, *make_xy(per_class=30))
    a, b, c = load_dataset(root, seed=3), load_dataset(root, seed=3), load_dataset(root, seed=4)
    for name in ("train", "val", "test"):
        assert np.array_equal(getattr(a, name).x, getattr(b, name).x)
    assert not np.array_equal(a.val.x, c.val.x)


def test_bad_gzip(tmp_path) -> None:
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"\0" * 100)[:20])
    with pytest.raises(DataError, match="x-idx3-ubyte.gz.*corrupt"):
        read_idx(path)
    path.write_bytes(b"plain text")
    with pytest.raises(DataError, match="not a gzip file"):
        read_idx(path)


def test_bad_idx_magic(tmp_path) -> None:
    (tmp_path / "f").write_bytes(b"\x00\x00\x09\x03" + b"\0" * 20)
    with pytest.raises(DataError, match="bad IDX magic"):
        read_idx(tmp_path / "f")


def test_truncated_idx(tmp_path) -> None:
    path = write_idx(tmp_path / "x-idx3-ubyte", np.zeros((4, 5, 5), np.uint8))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match="truncated"):
        read_idx(path)
    path.write_bytes(path.read_bytes()[:6])
    with pytest.raises(DataError, match="truncated IDX header"):
        read_idx(path)


def test_missing_idx_file(tmp_path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_idx(tmp_path / "nope.gz")
    write_idx(tmp_path / "train-images-idx3-ubyte", make_xy()[0])
    with pytest.raises(DataError, match="missing train-labels-idx1-ubyte"):
        load_dataset(tmp_path)


def test_idx_count_mismatch(tmp_path) -> None:
    x, y = make_xy()
    with pytest.raises(DataError, match="30 images but 29 labels"):
        load_dataset(write_idx_dir(tmp_path, x, y[:-1]))


# ---------------------------------------------------------------------------- image folders


def test_image_folder(tmp_path) -> None:
    root = write_folder(tmp_path / "imgs", {"zebra": 5, "ant": 5, "cat": 5})
    s = load_dataset(root, input_shape=(8, 8, 3), val_fraction=0.2, test_fraction=0.2)
    check_splits(s, (8, 8, 3), 3)
    assert s.train.class_names == ("ant", "cat", "zebra") and "image folder" in s.source
    counts = [np.bincount(d.y).tolist() for d in (s.train, s.val, s.test)]
    assert counts == [[3, 3, 3], [1, 1, 1], [1, 1, 1]]
    assert len(set(s.train.y[:3].tolist())) > 1  # shuffled, so subset(n) is a fair sample


def test_image_folder_train_test_trees(tmp_path) -> None:
    write_folder(tmp_path / "train", {"a": 4, "b": 4})
    write_folder(tmp_path / "test", {"a": 2, "b": 1})
    s = load_dataset(tmp_path, input_shape=(5, 5, 1), val_fraction=0.25)
    check_splits(s, (5, 5, 1), 2)
    assert sorted(s.test.y.tolist()) == [0, 0, 1] and len(s.train) + len(s.val) == 8


def test_image_folder_needs_input_shape(tmp_path) -> None:
    with pytest.raises(DataError, match="input_shape"):
        load_dataset(write_folder(tmp_path, {"a": 2, "b": 2}))


def test_image_folder_errors(tmp_path) -> None:
    write_folder(tmp_path / "one", {"a": 3})
    with pytest.raises(DataError, match="1 class folder.*at least 2"):
        load_dataset(tmp_path / "one", input_shape=(4, 4, 1))
    write_folder(tmp_path / "empty", {"a": 3, "b": 3})
    (tmp_path / "empty" / "c").mkdir()
    with pytest.raises(DataError, match=r"empty class folder"):
        load_dataset(tmp_path / "empty", input_shape=(4, 4, 1))
    (tmp_path / "empty" / "c" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="bad.png: cannot read image"):
        load_dataset(tmp_path / "empty", input_shape=(4, 4, 1))
    write_folder(tmp_path / "t" / "train", {"a": 3, "b": 3})
    write_folder(tmp_path / "t" / "test", {"x": 1})
    with pytest.raises(DataError, match="'x' is not among the classes"):
        load_dataset(tmp_path / "t", input_shape=(4, 4, 1))


def test_fit_and_load_image(tmp_path) -> None:
    rgb = np.random.default_rng(2).integers(0, 256, (6, 9, 3), dtype=np.uint8)
    gray = fit_image(rgb, (6, 9, 1))
    Image.fromarray(rgb).save(tmp_path / "i.png")
    assert np.array_equal(gray[..., 0], np.asarray(Image.fromarray(rgb).convert("L")))
    assert np.array_equal(load_image(tmp_path / "i.png", (6, 9, 1)), gray)
    assert fit_image(gray, (6, 9, 3)).shape == (6, 9, 3)
    assert fit_image(rgb[..., 0], (4, 4, 3)).shape == (4, 4, 3)
    with pytest.raises(DataError, match="uint8"):
        fit_image(rgb.astype(np.float32), (4, 4, 3))
    with pytest.raises(DataError, match="input_shape"):
        fit_image(rgb, (4, 4, 2))
    with pytest.raises(DataError, match="no such image"):
        load_image(tmp_path / "missing.png", (4, 4, 3))


# ---------------------------------------------------------------------------- npz


def test_npz(tmp_path) -> None:
    x, y = make_xy(classes=2)
    xt, yt = make_xy(per_class=3, classes=2)
    path = tmp_path / "d.npz"
    np.savez(path, x=x, y=y.astype(np.float32), x_test=xt, y_test=yt, class_names=["no", "yes"])
    s = load_dataset(path)
    check_splits(s, (6, 6, 1), 2)
    assert s.train.class_names == ("no", "yes") and len(s.test) == 6 and "npz" in s.source
    assert load_dataset(path, input_shape=(3, 3, 3)).train.x.shape[1:] == (3, 3, 3)
    assert len(s.train.subset(4)) == 4 and s.train.subset(None) is s.train


def _npz(tmp_path: Path, **arrays) -> Path:
    np.savez(tmp_path / "d.npz", **arrays)
    return tmp_path / "d.npz"


@pytest.mark.parametrize(
    ("arrays", "names", "match"),
    [
        ({"x": np.zeros((4, 2, 2))}, None, r"missing key\(s\) \['y'\]"),
        ({"x": np.zeros((6, 2, 2)), "y": [0, 1] * 3, "x_test": np.zeros((1, 2, 2))}, None, "x_t"),
        ({"x": np.zeros((6, 2)), "y": [0, 1] * 3}, None, r"3-D \(N, H, W\) or 4-D"),
        ({"x": np.zeros((6, 2, 2, 2)), "y": [0, 1] * 3}, None, "1 or 3 channels"),
        ({"x": np.full((6, 2, 2), 0.5), "y": [0, 1] * 3}, None, "whole numbers 0..255"),
        ({"x": np.zeros((6, 2, 2)), "y": [0, 1, 2] * 2}, ("a", "b"), r"label 2 out of range"),
        ({"x": np.zeros((6, 2, 2)), "y": [0, -1] * 3}, None, "negative label"),
        ({"x": np.zeros((6, 2, 2)), "y": [0.5, 1] * 3}, None, "labels must be integer"),
        ({"x": np.zeros((6, 2, 2)), "y": [[0, 1]] * 6}, None, r"labels must be 1-D"),
        ({"x": np.zeros((6, 2, 2)), "y": [0, 1] * 2}, None, "6 images but 4 labels"),
        ({"x": np.zeros((6, 2, 2)), "y": [0, 2] * 3}, None, r"class 1 \('1'\) has no examples"),
        ({"x": np.zeros((6, 2, 2)), "y": [0, 1] * 3}, ("a", "b", "c"), r"'c'\) has no examples"),
        ({"x": np.zeros((6, 2, 2)), "y": [0] * 6}, None, "need at least 2 classes"),
    ],
)
def test_npz_errors(tmp_path, arrays, names, match) -> None:
    with pytest.raises(DataError, match=match):
        load_dataset(_npz(tmp_path, **arrays), class_names=names)


def test_corrupt_npz(tmp_path) -> None:
    (tmp_path / "d.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(DataError, match=r"d.npz: cannot read .npz"):
        load_dataset(tmp_path / "d.npz")


# ---------------------------------------------------------------------------- sources and options


def test_missing_path(tmp_path) -> None:
    with pytest.raises(DataError, match="nope: no such file or directory"):
        load_dataset(tmp_path / "nope")


def test_unknown_layout_lists_expected_files(tmp_path) -> None:
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match="not a known data layout.*train-images-idx3-ubyte"):
        load_dataset(tmp_path)
    with pytest.raises(DataError, match="unsupported file type '.txt'"):
        load_dataset(tmp_path / "readme.txt")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"val_fraction": -0.1}, "val_fraction"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"test_fraction": 0.0}, "test_fraction"),
        ({"test_fraction": 1.5}, "test_fraction"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "must be < 1"),
        ({"input_shape": (4, 4)}, "input_shape"),
    ],
)
def test_bad_options(tmp_path, kwargs, match) -> None:
    with pytest.raises(DataError, match=match):
        load_dataset(tmp_path, **kwargs)


def test_too_few_examples_to_split(tmp_path) -> None:
    with pytest.raises(DataError, match="too few"):
        load_dataset(_npz(tmp_path, x=np.zeros((2, 2, 2)), y=[0, 1]))


def test_dataset_checks_its_arrays() -> None:
    with pytest.raises(DataError, match="uint8"):
        Dataset(np.zeros((2, 2, 2, 1)), np.zeros(2, np.int64), ("a", "b"))
    d = Dataset(np.zeros((2, 2, 2, 1), np.uint8), np.zeros(2, np.int64), ["a", "b"])  # type: ignore[arg-type]
    with pytest.raises(DataError, match="subset"):
        d.subset(-1)


# ---------------------------------------------------------------------------- class order


def test_given_class_names_fix_the_label_order(tmp_path) -> None:
    """Folders sort as ant, cat, zebra; the family's order wins and labels follow it."""
    root = write_folder(tmp_path / "imgs", {"zebra": 4, "ant": 4, "cat": 4})
    names = ("zebra", "ant", "cat")
    s = load_dataset(root, input_shape=(8, 8, 3), val_fraction=0.25, class_names=names)
    assert s.train.class_names == names
    first = np.asarray(
        load_image(root / "zebra" / sorted(os.listdir(root / "zebra"))[0], (8, 8, 3))
    )
    hits = [int(y) for x, y in zip(s.train.x, s.train.y) if np.array_equal(x, first)]
    hits += [int(y) for x, y in zip(s.val.x, s.val.y) if np.array_equal(x, first)]
    hits += [int(y) for x, y in zip(s.test.x, s.test.y) if np.array_equal(x, first)]
    assert hits and set(hits) == {0}  # a zebra image is class 0, the family's first name
    with pytest.raises(DataError, match=r"do not match the family's class_names"):
        load_dataset(root, input_shape=(8, 8, 3), class_names=("zebra", "ant", "dog"))


def test_source_names_checked_against_given(tmp_path) -> None:
    path = _npz(tmp_path, x=np.zeros((20, 2, 2)), y=[0, 1] * 10, class_names=["no", "yes"])
    assert load_dataset(path, class_names=("no", "yes")).train.class_names == ("no", "yes")
    with pytest.raises(
        DataError,
        match=r"\['no', 'yes'\] differ from the family's class_names "
        r"\['yes', 'no'\]",
    ):
        load_dataset(path, class_names=("yes", "no"))


def test_fit_notes_say_what_was_done_to_the_input() -> None:
    from vp_edge.data import fit_notes

    assert fit_notes((28, 28), "L", (28, 28, 1)) == []
    assert fit_notes((1200, 900), "RGB", (28, 28, 1)) == [
        "converted from colour (RGB) to grey",
        "resized 1200x900 -> 28x28 (bilinear, aspect ratio not kept)",
    ]
    assert fit_notes((56, 56), "LA", (28, 28, 1)) == [
        "transparency dropped",
        "resized 56x56 -> 28x28 (bilinear)",
    ]
    assert fit_notes((32, 32), "L", (32, 32, 3)) == ["grey repeated to 3 colour channels"]


def test_gateway_decode_reports_resize_and_colour() -> None:
    import io

    from PIL import Image

    from vp_edge.gateway.front import decode_image

    buf = io.BytesIO()
    Image.new("RGB", (120, 90), (200, 10, 10)).save(buf, "PNG")
    img, notes = decode_image(buf.getvalue(), (28, 28, 1))
    assert img.shape == (28, 28, 1) and img.dtype == np.uint8
    assert notes == [
        "converted from colour (RGB) to grey",
        "resized 120x90 -> 28x28 (bilinear, aspect ratio not kept)",
    ]
