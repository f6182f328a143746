"""Reads and writes of files the user names, with errors that name them.

A path may be /dev/zero, a FIFO or a huge file by mistake, and ``Path.read_bytes()`` would then
fill memory without end: every layer reads such files through ``read_limited``, so the failure
is one line naming the file and the limit. A full disk fails in ``write()``, whose ``OSError``
has no file name: ``write_file`` and ``writing`` add it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
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
        raise FileTooLarge(
            f"{name}: larger than {_size(limit)} (is it a device such as "
            "/dev/zero, or the wrong file?); give a regular file"
        )
    return data


@contextlib.contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """Name ``path`` in an ``OSError`` raised while writing it: a failed ``write()`` (e.g.
    ENOSPC, "No space left on device") carries no file name of its own, unlike ``open()``."""
    try:
        yield
    except OSError as e:
        if e.filename is None:
            raise OSError(e.errno, e.strerror or str(e), str(path)) from e
        raise


def write_file(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write ``data`` to ``path``; an error names the file (see ``writing``)."""
    with writing(path):
        if isinstance(data, str):
            Path(path).write_text(data, encoding="utf-8")
        else:
            Path(path).write_bytes(data)


def _size(n: int) -> str:
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"
