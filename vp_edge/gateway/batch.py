"""The gateway fed from a batch of images (a data set split or an image folder), with a
progress line; the live check and ``vp-edge gateway --images/--split`` use it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

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
