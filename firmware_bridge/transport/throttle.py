"""A stream link slowed to a UART's speed, for emulated microcontrollers."""

from __future__ import annotations

import time

from .base import Link


def wire_seconds(nbytes: int, baud: int) -> float:
    """Time to move ``nbytes`` over a UART at ``baud`` (8N1: 10 bits per byte)."""
    return nbytes * 10.0 / baud


class ThrottledLink(Link):
    """Wraps a stream link so it moves bytes no faster than a UART at ``baud`` (10 bits/byte).

    Sending sleeps for the bytes' wire time; received bytes are handed over only when their
    last bit would have arrived, so a frame takes as long as on real hardware.
    """

    def __init__(self, inner: Link, baud: int) -> None:
        super().__init__(inner.url)
        self.inner, self.baud = inner, baud
        self.framing = inner.framing
        self._rx_free = 0.0
        self._tx_free = 0.0

    def send(self, data: bytes) -> None:
        now = time.monotonic()
        self._tx_free = max(now, self._tx_free) + wire_seconds(len(data), self.baud)
        time.sleep(max(0.0, self._tx_free - now))
        self.inner.send(data)
        self.bytes_sent += len(data)

    def recv(self, timeout: float) -> bytes:
        data = self.inner.recv(timeout)
        if data:
            now = time.monotonic()
            self._rx_free = max(now, self._rx_free) + wire_seconds(len(data), self.baud)
            time.sleep(max(0.0, self._rx_free - now))
            self.bytes_received += len(data)
        return data

    def confirm_peer(self) -> None:
        self.inner.confirm_peer()

    def close(self) -> None:
        self.inner.close()
