"""A seeded user-space impairment proxy for UDP (kernel netem is not available here).

``UdpImpairer(target, Impairment(...), seed)`` listens on a loopback port; datagrams from the
client are forwarded to ``target`` and the target's replies back to the last client, each
direction independently: dropped (``loss``), sent twice (``duplicate``), corrupted (one byte
flipped, ``corrupt``), delayed by ``delay_s`` ± ``jitter_s`` (uniform), and with probability
``reorder`` held back one extra ``delay_s + jitter_s`` so later datagrams overtake it.
Every decision comes from one ``random.Random(seed)``; ``counts`` says what was done.
"""

from __future__ import annotations

import heapq
import random
import select
import socket
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Impairment:
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    delay_s: float = 0.0
    jitter_s: float = 0.0
    corrupt: float = 0.0


class UdpImpairer:
    """One impaired UDP path: client <-> proxy port <-> target (host, port)."""

    def __init__(self, target: tuple[str, int], imp: Impairment, seed: int) -> None:
        self.imp, self.rng = imp, random.Random(seed)
        self.outer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.outer.bind(("127.0.0.1", 0))
        self.inner = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.inner.connect(target)
        self.port = self.outer.getsockname()[1]
        self.client: tuple | None = None
        self.counts = dict.fromkeys(
            ("datagrams", "lost", "duplicated", "reordered", "corrupted", "delivered"), 0
        )
        self._queue: list[tuple[float, int, bool, bytes]] = []  # (due, seq, to_target, data)
        self._seq = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="impairer")
        self._thread.start()

    @property
    def url(self) -> str:
        return f"udp://127.0.0.1:{self.port}"

    def _schedule(self, data: bytes, to_target: bool) -> None:
        imp, rng, now = self.imp, self.rng, time.monotonic()
        self.counts["datagrams"] += 1
        if rng.random() < imp.loss:
            self.counts["lost"] += 1
            return
        copies = 2 if rng.random() < imp.duplicate else 1
        self.counts["duplicated"] += copies - 1
        for _ in range(copies):
            out = bytearray(data)
            if rng.random() < imp.corrupt and out:
                out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
                self.counts["corrupted"] += 1
            delay = max(0.0, imp.delay_s + rng.uniform(-imp.jitter_s, imp.jitter_s))
            if rng.random() < imp.reorder:
                delay += imp.delay_s + imp.jitter_s  # later datagrams overtake this one
                self.counts["reordered"] += 1
            self._seq += 1
            heapq.heappush(self._queue, (now + delay, self._seq, to_target, bytes(out)))

    def _flush(self) -> None:
        now = time.monotonic()
        while self._queue and self._queue[0][0] <= now:
            _, _, to_target, data = heapq.heappop(self._queue)
            try:
                if to_target:
                    self.inner.send(data)
                elif self.client is not None:
                    self.outer.sendto(data, self.client)
                self.counts["delivered"] += 1
            except OSError:
                pass  # the board is down: a lost datagram

    def _run(self) -> None:
        socks = [self.outer, self.inner]
        while not self._stop.is_set():
            wait = 0.05 if not self._queue else max(0.0, self._queue[0][0] - time.monotonic())
            ready, _, _ = select.select(socks, [], [], min(wait, 0.05))
            for s in ready:
                try:
                    data, addr = s.recvfrom(65536)
                except OSError:
                    continue
                if s is self.outer:
                    self.client = addr
                self._schedule(data, to_target=s is self.outer)
            self._flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.outer.close()
        self.inner.close()


def _serve(targets: list[tuple[str, int]], imp: Impairment, seeds: list[int], conn) -> None:  # noqa: ANN001
    proxies = [UdpImpairer(t, imp, s) for t, s in zip(targets, seeds, strict=True)]
    conn.send([p.port for p in proxies])
    conn.recv()  # stop
    for p in proxies:
        p.close()
    conn.send([p.counts for p in proxies])


class ImpairerProcess:
    """Several ``UdpImpairer``s in a child process, so the proxy's work does not compete for
    the interpreter lock with the gateway and boards under test. ``ports``, then ``close()``
    returns each proxy's counts."""

    def __init__(self, targets: list[tuple[str, int]], imp: Impairment, seeds: list[int]) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(targets, imp, seeds, child), daemon=True)
        self._proc.start()
        self.ports: list[int] = self._conn.recv()

    def close(self) -> list[dict[str, int]]:
        self._conn.send("stop")
        counts = self._conn.recv()
        self._proc.join(5)
        return counts
