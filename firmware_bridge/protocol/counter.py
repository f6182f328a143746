"""The per-sender monotonic frame counter: 64 bits = (boot epoch << 32) | sequence.

A sender bumps its epoch once per boot (``boot_counter``: ``EpochStore.bump``, persisted before
the first frame is sent) and numbers frames 1, 2, ... within the epoch. This is the one scheme
for every sender, gateway and board alike: the new epoch is max(stored + 1, Unix seconds), so a
sender started later outranks earlier ones even without a shared file, and the file (locked
while bumped) makes two starts in the same second differ. Where the file lives is the caller's
choice (a deployment's state folder, a board's storage). Receivers keep a ``ReplayWindow`` per
sender: a counter above the highest accepted, or one of the 63 below it not yet accepted (a frame
that a later one overtook), so a rebooted sender (new epoch) is accepted at once while recorded
old frames and duplicates are not.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from ..errors import CounterError

SEQ_MAX = 0xFFFFFFFF
EPOCH_MAX = 0xFFFFFFFF
REPLAY_WINDOW = 64  # counters a receiver tracks per sender: the highest and the 63 below it
_WINDOW_MASK = (1 << REPLAY_WINDOW) - 1


class Counter:
    """Hands out counters for one sender: ``next()`` returns ``epoch << 32 | seq``, seq from 1."""

    def __init__(self, epoch: int, seq: int = 0) -> None:
        if not 0 <= epoch <= EPOCH_MAX or not 0 <= seq <= SEQ_MAX:
            raise CounterError(f"epoch {epoch} or sequence {seq} out of 32-bit range")
        self.epoch = epoch
        self.seq = seq

    def next(self) -> int:
        """Advance and return the next counter value; ``CounterError`` when the epoch is spent."""
        if self.seq >= SEQ_MAX:
            raise CounterError("sequence exhausted in this epoch: restart with a new epoch")
        self.seq += 1
        return self.epoch << 32 | self.seq

    @property
    def value(self) -> int:
        """The last counter handed out (0 before the first)."""
        return self.epoch << 32 | self.seq if self.seq else 0


class EpochStore:
    """A boot-epoch file: ``bump()`` reads it, adds one, writes it back atomically, returns it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def read(self) -> int:
        """The stored epoch (0 if the file does not exist yet)."""
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise CounterError(f"cannot read epoch file {self.path}: {exc}") from exc
        if not text.isdigit() or int(text) > EPOCH_MAX:
            raise CounterError(f"epoch file {self.path} holds {text!r}, not an epoch")
        return int(text)

    def bump(self, floor: int = 0) -> int:
        """Persist and return the next epoch, at least ``floor``; call once per boot, before
        sending anything. Concurrent bumps of one file are serialised by a lock file."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.with_name(self.path.name + ".lock"), "w") as lock:
                with contextlib.suppress(ImportError):
                    import fcntl

                    fcntl.flock(lock, fcntl.LOCK_EX)
                epoch = max(self.read() + 1, floor)
                if epoch > EPOCH_MAX:
                    raise CounterError(f"epoch file {self.path} is exhausted")
                tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
                with open(tmp, "w") as fh:
                    fh.write(f"{epoch}\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
        except OSError as exc:
            raise CounterError(f"cannot write epoch file {self.path}: {exc}") from exc
        return epoch

    def counter(self, floor: int = 0) -> Counter:
        """Bump the epoch and return a fresh ``Counter`` for this boot."""
        return Counter(self.bump(floor))


def boot_counter(epoch_file: str | os.PathLike[str] | None) -> Counter:
    """A sender's counter for this start: epoch max(stored + 1, Unix seconds), persisted in
    ``epoch_file`` first; without a file, Unix seconds alone."""
    now = int(time.time())
    if epoch_file is None:
        return Counter(now)
    return EpochStore(epoch_file).counter(floor=now)


class ReplayWindow:
    """Anti-replay state for one sender (docs/protocol.md §4; RFC 4303 §3.4.3, RFC 6347 §4.1.2.6).

    ``highest`` is the largest counter accepted; bit ``i`` of ``seen`` says ``highest - i`` was
    accepted. A counter is fresh if it is above ``highest`` or at most 63 below it and not yet
    seen; anything else (a duplicate, or older than the window) is a replay. ``fresh`` only
    looks; ``accept`` records a counter once every other check on its frame has passed.
    """

    def __init__(self) -> None:
        self.highest: int | None = None
        self.seen = 0
        self.last_used = 0  # board role: when this sender was last accepted (LRU eviction)

    def fresh(self, counter: int) -> bool:
        """Whether ``counter`` may be accepted (nothing is recorded)."""
        if self.highest is None or counter > self.highest:
            return True
        behind = self.highest - counter
        return behind < REPLAY_WINDOW and not (self.seen >> behind) & 1

    def accept(self, counter: int) -> None:
        """Record ``counter`` as accepted; call only after ``fresh(counter)`` was true."""
        if self.highest is None or counter > self.highest:
            shift = REPLAY_WINDOW if self.highest is None else counter - self.highest
            self.seen = ((self.seen << shift) | 1) & _WINDOW_MASK if shift < REPLAY_WINDOW else 1
            self.highest = counter
        else:
            self.seen |= 1 << (self.highest - counter)
