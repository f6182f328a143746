"""Ctrl-C that waits for a consistent state on disk.

A training run persists each epoch in three files: the best weights, the checkpoint (model and
optimiser) and ``train.json`` (epochs done, best epoch, history). An interrupt between them
would leave a checkpoint of epoch N+1 beside a record of epoch N, and a resumed run would train
epoch N+1 twice (or fail on a half-written checkpoint). Inside ``deferred_interrupt()`` a
SIGINT is remembered and raised as ``KeyboardInterrupt`` once the block has finished.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold SIGINT until the block ends (then raise ``KeyboardInterrupt``); a no-op outside the
    main thread, where Python delivers no signals anyway."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def remember(signum: int, frame: Any) -> None:
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, remember)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt
