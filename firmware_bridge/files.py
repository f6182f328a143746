"""Bounded reads of files the user names: a path may be /dev/zero, a FIFO or a huge file by
mistake, and ``Path.read_bytes()`` would then fill memory without end. Every layer reads such
files through ``read_limited`` so the failure is one line naming the file and the limit."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UsageError

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

#: sizes that bound what users hand us, by kind of file
KEY_FILE_MAX = 4 * KIB
TEXT_FILE_MAX = 4 * MIB  # family files, deployment files, cards, JSON state
MODEL_FILE_MAX = 256 * MIB  # .tflite / .vpw / firmware images
DATA_FILE_MAX = 2 * GIB  # data sets (IDX, npz)


class FileTooLarge(UsageError):
    """A file is larger than what it can be (a device such as /dev/zero, or the wrong file)."""


def read_limited(path: str | os.PathLike[str], limit: int, what: str | None = None) -> bytes:
    """At most ``limit`` bytes of ``path``; ``FileTooLarge`` (exit 2) naming it if there are more.

    ``OSError`` from opening or reading passes through so callers keep their own wording.
    """
    name = what or str(path)
    with open(Path(path), "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(f"{name}: larger than {_size(limit)} (is it a device such as "
                           "/dev/zero, or the wrong file?); give a regular file")
    return data


def _size(n: int) -> str:
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"
