"""IDX files (Fashion-MNIST's format), raw or gzip: read whole and checked against their header.

A corrupt or truncated download fails here, naming the file, not minutes later in training.
"""

from __future__ import annotations

import gzip
import io
import math
import zlib
from pathlib import Path

import numpy as np

from firmware_bridge.files import DATA_FILE_MAX, read_limited
from vp_edge.errors import DataError

_IDX_MAGIC = {0x0801: 1, 0x0803: 3}  # magic -> number of dimensions (uint8 labels / images)


def _read_bytes(path: Path) -> bytes:
    """Whole file, gunzipped if gzip, so a corrupt download fails here and not in training."""
    if not path.is_file():
        raise DataError(f"{path}: no such file; check the path")
    try:
        raw = read_limited(path, DATA_FILE_MAX)
        if raw[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as fh:
                data = fh.read(DATA_FILE_MAX + 1)
            if len(data) > DATA_FILE_MAX:
                raise DataError(
                    f"{path}: unpacks to more than {DATA_FILE_MAX >> 30} GiB; not an IDX file"
                )
            return data
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt ({exc}); re-create or re-install it") from exc
    if path.suffix == ".gz":
        raise DataError(f"{path}: not a gzip file although named .gz; re-create or re-install it")
    return raw


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (raw or .gz), checking magic and length so a bad file fails loudly."""
    path = Path(path)
    data = _read_bytes(path)
    magic = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if magic is None or magic not in _IDX_MAGIC:
        found = "no header" if magic is None else f"0x{magic:08x}"
        raise DataError(
            f"{path}: bad IDX magic ({found}); expected 0x00000801 (labels) or 0x00000803 "
            "(images); is this an IDX file?"
        )
    ndim = _IDX_MAGIC[magic]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes); re-create it")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + math.prod(dims)
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise DataError(
            f"{path}: IDX file {what}: header says shape {dims} ({expected} bytes), file has "
            f"{len(data)} bytes; re-create or re-install it"
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims).copy()
