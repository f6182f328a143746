"""A dependency-free progress bar (the runtime has no tqdm): stderr, TTY-aware.

On a terminal it redraws one line; elsewhere (CI logs) it prints a line every
10 % so logs stay short.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, label: str, stream: TextIO | None = None, enabled: bool = True):
        self.total, self.label, self.done = max(int(total), 0), label, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.t0 = time.monotonic()
        self._last_decile = -1
        self._draw()

    def update(self, n: int = 1) -> None:
        self.done = min(self.total, self.done + n)
        self._draw()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _draw(self) -> None:
        if not self.enabled or self.total == 0:
            return
        frac = self.done / self.total
        elapsed = time.monotonic() - self.t0
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        text = (
            f"{self.label}: {self.done}/{self.total} ({100 * frac:5.1f}%) "
            f"{elapsed:6.1f}s eta {eta:5.1f}s"
        )
        if self.tty:
            bar = "#" * int(30 * frac)
            self.stream.write(f"\r[{bar:<30}] {text}")
            self.stream.flush()
            return
        decile = int(10 * frac)
        if decile != self._last_decile:
            self._last_decile = decile
            self.stream.write(text + "\n")
            self.stream.flush()
