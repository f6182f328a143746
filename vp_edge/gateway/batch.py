"""The gateway fed from a batch of images (a data set split or an image folder), with a
progress line; the live check and ``vp-edge gateway --images/--split`` use it.

``run_gateway_batch`` is that command as a function: the inputs loaded and the answers file
opened before any board hears a frame (everything that can fail is checked first), then one
gateway over the batch; ``exit_policy`` says which reports are a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

import numpy as np

from vp_edge.deployment import Deployment
from vp_edge.gateway.answer import Answer
from vp_edge.gateway.core import Gateway, run_inputs
from vp_edge.gateway.stats import progress_label
from vp_edge.progress import Progress


async def run_batch_async(
    gw: Gateway,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    inflight: int = 1,
    show: bool = True,
    on_request: Callable[[int], None] | None = None,
) -> list[Answer]:
    """``run_inputs`` with the progress line showing boards up, degraded answers and p50."""
    with Progress(len(images), progress_label(gw), enabled=show) as bar:

        def tick(_: Answer) -> None:
            bar.label = progress_label(gw)
            bar.update(1)

        return await run_inputs(gw, images, labels, inflight, on_request, tick)


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def batch_inputs(
    dep: Deployment, split: str | None, images: Path | None, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray | None, list[Path] | None]:
    """(images, labels, files): a split of the run's data set (labelled), or the pictures of
    a folder fitted to the family's input (with their files); the first ``limit`` only."""
    from vp_edge.errors import DataError
    from vp_edge.images import load_image
    from vp_edge.train import load_run_family

    family = load_run_family(dep.run)
    if split:
        from vp_edge.convert import load_run_data

        data = getattr(load_run_data(dep.run, family), split).subset(limit)
        return data.x, data.y, None
    if images is None:
        raise DataError("give a split of the run's data or a folder of images")
    files = sorted(f for f in images.glob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{images}: no .png/.jpg/.jpeg/.bmp images found")
    files = files[:limit]
    return np.stack([load_image(f, family.input_shape) for f in files]), None, files


@contextlib.contextmanager
def answers_file(path: Path | None) -> Iterator[TextIO | None]:
    """``path`` opened for writing up front, so a bad path fails before any board is
    contacted (a usage error, exit 2)."""
    if path is None:
        yield None
        return
    from vp_edge.errors import UsageError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = path.open("w")
    except OSError as e:
        raise UsageError(f"--answers {path}: cannot write it: {e.strerror or e}") from None
    with fh:
        yield fh


async def _batch(
    dep: Deployment, x: np.ndarray, y: np.ndarray | None, inflight: int, show: bool
) -> tuple[dict, list[Answer]]:
    gw = Gateway(dep)
    await gw.start()
    try:
        answers = await run_batch_async(gw, x, y, inflight, show)
    finally:
        await gw.close()
    return gw.report(), answers


def run_gateway_batch(
    dep: Deployment,
    split: str | None = None,
    images: Path | None = None,
    limit: int | None = None,
    inflight: int = 1,
    show: bool = True,
    answers: Path | None = None,
) -> dict:
    """One gateway over a batch (``batch_inputs``); every answer as a JSON line into
    ``answers`` (with its file, for a folder); the gateway's report."""
    x, y, files = batch_inputs(dep, split, images, limit)
    with answers_file(answers) as fh:
        report, got = asyncio.run(_batch(dep, x, y, inflight, show))
        for a in got if fh else ():
            d = a.to_dict()
            if files is not None:
                d["file"] = str(files[a.index])
            fh.write(json.dumps(d) + "\n")
    return report


def exit_policy(report: dict) -> tuple[int, str | None]:
    """(exit code, why): 3 when a request got an error, or when a board was refused and every
    answer was degraded (the ensemble ran short the whole time); 0 otherwise."""
    refused = [name for name, b in report["boards"].items() if b.get("refused")]
    if report["errors"]:
        return 3, None
    if refused and report["requests"] and report["degraded"] == report["requests"]:
        return 3, f"every answer was degraded; refused: {', '.join(refused)}"
    return 0, None
