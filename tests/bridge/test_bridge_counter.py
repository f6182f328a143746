"""The one epoch scheme: max(stored + 1, Unix seconds), persisted before the first frame."""

from __future__ import annotations

import time
from pathlib import Path

from firmware_bridge import EpochStore, boot_counter


def test_boot_counter_outranks_the_clock_and_every_earlier_start(tmp_path: Path) -> None:
    path = tmp_path / "state" / "gateway.epoch"
    before = int(time.time())
    epochs = [boot_counter(path).epoch for _ in range(3)]  # same second: still increasing
    assert epochs[0] >= before and epochs == sorted(set(epochs))
    assert EpochStore(path).read() == epochs[-1]
    path.write_text(f"{epochs[-1] + 1000}\n")  # a file ahead of the clock wins
    assert boot_counter(path).epoch == epochs[-1] + 1001
    assert boot_counter(None).epoch >= before  # no file: the clock alone


def test_epoch_store_alone_counts_boots(tmp_path: Path) -> None:
    store = EpochStore(tmp_path / "board.epoch")
    assert [store.bump() for _ in range(3)] == [1, 2, 3]
    assert not list(tmp_path.glob("*.tmp"))
