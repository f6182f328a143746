"""A dependency-free progress bar (the runtime has no tqdm): stderr, TTY-aware.

On a terminal it redraws one line; elsewhere (CI logs, a file) it prints a line at each
further 10 % only, so a log holds at most ten lines per step. ``keras_progress`` puts one such
bar over a whole ``fit`` and prints one short line per epoch instead of Keras' own.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class Progress:
    def __init__(self, total: int, label: str, stream: TextIO | None = None, enabled: bool = True):
        self.total, self.label, self.done = max(int(total), 0), label, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.t0 = time.monotonic()
        self._last_decile = 0
        self._draw()

    def update(self, n: int = 1) -> None:
        self.done = min(self.total, self.done + n)
        self._draw()

    def note(self, line: str) -> None:
        """A line of its own (e.g. an epoch's summary) without breaking the bar."""
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r\033[K" + line + "\n")
            self._draw()
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

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
        if decile > self._last_decile:
            self._last_decile = decile
            self.stream.write(text + "\n")
            self.stream.flush()


def epoch_line(label: str, epoch: int, epochs: int, logs: dict, seconds: float) -> str:
    """One short line per epoch: losses and every output's validation accuracy, rounded."""
    accs = [
        f"{k[4:-9]} {100 * float(v):.1f}%"
        for k, v in logs.items()
        if k.startswith("val_") and k.endswith("_accuracy")
    ]
    parts = [f"loss {float(logs.get('loss', float('nan'))):.4f}"]
    if "val_loss" in logs:
        parts.append(f"val loss {float(logs['val_loss']):.4f}")
    if accs:
        parts.append("val acc " + ", ".join(accs))
    return f"{label} epoch {epoch}/{epochs}: " + "; ".join(parts) + f" ({seconds:.0f} s)"


def keras_progress(label: str, epochs: int, initial_epoch: int, steps: int) -> Any:
    """A Keras callback: one bar over the remaining steps of a fit and a line per epoch."""
    import keras

    class _Bar(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict | None = None) -> None:
            self.bar = Progress((epochs - initial_epoch) * steps, f"training {label}")
            self.t0 = time.monotonic()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.bar.update(1)

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            seconds, self.t0 = time.monotonic() - self.t0, time.monotonic()
            self.bar.note(epoch_line(label, epoch + 1, epochs, logs or {}, seconds))

        def on_train_end(self, logs: dict | None = None) -> None:
            self.bar.close()

    return _Bar()
