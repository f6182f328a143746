"""experiments.plan_live: the gateway-side hold that makes an emulated board answer at its speed."""

from __future__ import annotations

import queue
import time

from experiments.plan_live import HeldLink


class FakeLink:
    """Chunks put in ``inbox`` arrive at once; what was sent is kept."""

    def __init__(self) -> None:
        self.inbox: queue.Queue = queue.Queue()
        self.sent: list[bytes] = []
        self.framing = "stream"
        self.closed = False

    def recv(self, timeout: float) -> bytes:
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            return b""

    def send(self, data: bytes) -> None:
        self.sent.append(data)

    def close(self) -> None:
        self.closed = True


def test_held_link_delays_each_chunk_once_not_one_after_another() -> None:
    inner = FakeLink()
    link = HeldLink(inner, 0.15)
    t0 = time.monotonic()
    for chunk in (b"RES", b"ULT", b"!"):  # one reply arriving in three chunks
        inner.inbox.put(chunk)
    got, times = b"", []
    while len(got) < 7:
        got += link.recv(1.0)
        times.append(time.monotonic() - t0)
    assert got == b"RESULT!"
    assert 0.14 <= times[0] and times[-1] < 0.29  # held 0.15 s in all, not 3 x 0.15 s
    link.send(b"INFER")  # sending and the link's attributes go straight through
    assert inner.sent == [b"INFER"] and link.framing == "stream"
    assert link.recv(0.05) == b""
    link.close()
    assert inner.closed


def test_paired_counts_the_images_only_one_family_got_right() -> None:
    from experiments.plan_versus import paired

    line = paired([1, 1, 0, 1, 0, 1], [1, 0, 1, 0, 0, 0])
    assert "only planned right on 3, only uniform right on 1" in line
    assert "p = 0.62" in line  # 2 x P(X <= 1), X ~ Binomial(4, 1/2) = 2 x 5/16
