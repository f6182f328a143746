"""Seeded user-space impairment proxies for UDP and serial streams (kernel netem is not here).

One settings class, ``Impairment``, drives both; each unit of traffic (a datagram, or on a
stream one COBS block up to and including its 0x00 delimiter) is independently dropped
(``loss``), sent twice (``duplicate``), cut (``cut``: a run of 1-4 bytes removed, which on a
stream may take the delimiter and merge two blocks), corrupted (one bit flipped, ``corrupt``),
delayed by ``delay_s`` ± ``jitter_s`` (uniform), and with probability ``reorder`` held back one
extra ``delay_s + jitter_s`` so later units overtake it. A stream otherwise keeps its order (a
block never leaves before the one sent ahead of it) and passes idle delimiters through.

``UdpImpairer(target, imp, seed)``: a loopback port; datagrams from the client go to ``target``,
the target's replies back to the last client. ``StreamImpairer(StreamEnds(...), imp, seed)``:
two byte streams (any link URL: ``pty://``, ``socket://``, ...), the board's end opened as a
client and the gateway's end served (``pty://NAME`` publishes a fresh pty for the gateway).
Every decision comes from ``random.Random`` seeded per proxy and direction; ``counts`` says
what was done.
"""

from __future__ import annotations

import heapq
import random
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from firmware_bridge.transport import Link, LinkError, open_link


@dataclass(frozen=True)
class Impairment:
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    delay_s: float = 0.0
    jitter_s: float = 0.0
    corrupt: float = 0.0
    cut: float = 0.0


COUNTS = ("lost", "duplicated", "reordered", "corrupted", "cut", "delivered")


class Decider:
    """One direction's decisions: what becomes of each unit, with its own seeded generator."""

    def __init__(self, imp: Impairment, seed: int | str, unit: str) -> None:
        self.imp, self.rng, self.unit = imp, random.Random(seed), unit
        self.counts = dict.fromkeys((unit, *COUNTS), 0)

    def copies(self, data: bytes) -> list[tuple[float, bool, bytes]]:
        """The copies of ``data`` to deliver: (delay in seconds, reordered, bytes)."""
        imp, rng = self.imp, self.rng
        self.counts[self.unit] += 1
        if rng.random() < imp.loss:
            self.counts["lost"] += 1
            return []
        n = 2 if rng.random() < imp.duplicate else 1
        self.counts["duplicated"] += n - 1
        out = []
        for _ in range(n):
            b = bytearray(data)
            if imp.cut and rng.random() < imp.cut and b:  # no draw when off: UDP runs repeat
                at = rng.randrange(len(b))
                del b[at : at + rng.randint(1, 4)]
                self.counts["cut"] += 1
            if rng.random() < imp.corrupt and b:
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
                self.counts["corrupted"] += 1
            delay = max(0.0, imp.delay_s + rng.uniform(-imp.jitter_s, imp.jitter_s))
            late = rng.random() < imp.reorder
            if late:
                delay += imp.delay_s + imp.jitter_s  # later units overtake this one
                self.counts["reordered"] += 1
            out.append((delay, late, bytes(b)))
        return out


def total(deciders: list[Decider]) -> dict[str, int]:
    """The counts of several deciders added up."""
    out: dict[str, int] = {}
    for d in deciders:
        for k, v in d.counts.items():
            out[k] = out.get(k, 0) + v
    return out


class UdpImpairer:
    """One impaired UDP path: client <-> proxy port <-> target (host, port)."""

    def __init__(self, target: tuple[str, int], imp: Impairment, seed: int) -> None:
        self.decider = Decider(imp, seed, "datagrams")  # one thread decides both directions
        self.outer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.outer.bind(("127.0.0.1", 0))
        self.inner = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.inner.connect(target)
        self.port = self.endpoint = self.outer.getsockname()[1]
        self.client: tuple | None = None
        self._queue: list[tuple[float, int, bool, bytes]] = []  # (due, seq, to_target, data)
        self._seq = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="impairer")
        self._thread.start()

    @property
    def counts(self) -> dict[str, int]:
        return self.decider.counts

    @property
    def url(self) -> str:
        return f"udp://127.0.0.1:{self.port}"

    def _schedule(self, data: bytes, to_target: bool) -> None:
        now = time.monotonic()
        for delay, _, out in self.decider.copies(data):
            self._seq += 1
            heapq.heappush(self._queue, (now + delay, self._seq, to_target, out))

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


@dataclass(frozen=True)
class StreamEnds:
    """Where a stream proxy sits: the board's link (opened as a client, e.g. ``pty://m3`` found
    in ``board_pty_dir``) and the link it serves the gateway (``pty://m3`` published in
    ``gateway_pty_dir``)."""

    board_url: str
    board_pty_dir: Path | None
    gateway_url: str
    gateway_pty_dir: Path | None


class StreamPump:
    """One direction of a stream proxy: reads ``src``, cuts the bytes into COBS blocks at each
    0x00, impairs each block and writes it to ``dst`` when due, in order unless reordered."""

    def __init__(self, src: Link, dst: Link, decider: Decider, stop: threading.Event) -> None:
        self.src, self.dst, self.decider, self.stop = src, dst, decider, stop
        self._partial = bytearray()
        self._queue: list[tuple[float, int, bytes]] = []  # (due, seq, data)
        self._seq = 0
        self._last_due = 0.0
        self.thread = threading.Thread(target=self._run, daemon=True, name="stream-impairer")
        self.thread.start()

    def _schedule(self, block: bytes) -> None:
        now = time.monotonic()
        if block == b"\x00":  # idle delimiter: passes in order, untouched
            self._push(max(now, self._last_due), block, keep_order=True)
            return
        for delay, late, data in self.decider.copies(block):
            self._push(max(now + delay, 0.0 if late else self._last_due), data, keep_order=not late)

    def _push(self, due: float, data: bytes, keep_order: bool) -> None:
        if keep_order:
            self._last_due = due
        self._seq += 1
        heapq.heappush(self._queue, (due, self._seq, data))

    def _take(self, data: bytes) -> None:
        start = 0
        while (end := data.find(b"\x00", start)) >= 0:
            self._partial += data[start : end + 1]
            self._schedule(bytes(self._partial))
            self._partial.clear()
            start = end + 1
        self._partial += data[start:]

    def _flush(self) -> None:
        now = time.monotonic()
        while self._queue and self._queue[0][0] <= now:
            _, _, data = heapq.heappop(self._queue)
            try:
                self.dst.send(data)
                if data != b"\x00":
                    self.decider.counts["delivered"] += 1
            except (LinkError, OSError):
                pass  # the other end closed: the bytes are lost

    def _run(self) -> None:
        while not self.stop.is_set():
            wait = 0.02 if not self._queue else self._queue[0][0] - time.monotonic()
            try:
                data = self.src.recv(min(max(wait, 0.0), 0.02))
            except (LinkError, OSError):  # the source closed: keep flushing until stopped
                data = b""
                time.sleep(0.02)
            if data:
                self._take(data)
            self._flush()


class StreamImpairer:
    """One impaired serial stream: gateway <-> served link <-> board link, both directions."""

    def __init__(self, ends: StreamEnds, imp: Impairment, seed: int) -> None:
        self.board = open_link(ends.board_url, pty_dir=ends.board_pty_dir, wait_s=5.0)
        self.gateway = open_link(ends.gateway_url, server=True, pty_dir=ends.gateway_pty_dir)
        self.endpoint = ends.gateway_url
        self.deciders = [Decider(imp, f"{seed}:{d}", "blocks") for d in ("to_board", "to_gw")]
        self._stop = threading.Event()
        self.pumps = [
            StreamPump(self.gateway, self.board, self.deciders[0], self._stop),
            StreamPump(self.board, self.gateway, self.deciders[1], self._stop),
        ]

    @property
    def counts(self) -> dict[str, int]:
        return total(self.deciders)

    def close(self) -> None:
        self._stop.set()
        for p in self.pumps:
            p.thread.join(2)
        self.gateway.close()
        self.board.close()


Proxy = UdpImpairer | StreamImpairer


def _serve(make: Callable[[], list[Proxy]], conn) -> None:
    try:
        proxies = make()
    except Exception as exc:
        conn.send(f"impairment proxy failed to start: {exc}")
        return
    conn.send([p.endpoint for p in proxies])
    conn.recv()  # stop
    for p in proxies:
        p.close()
    conn.send([p.counts for p in proxies])


class ImpairerProcess:
    """Several proxies in a child process, so the proxy's work does not compete for the
    interpreter lock with the gateway and boards under test: one per target, ``kind``
    ``UdpImpairer`` (targets are (host, port)) or ``StreamImpairer`` (targets are
    ``StreamEnds``). ``endpoints`` (``ports`` for UDP), then ``close()`` returns each proxy's
    counts."""

    def __init__(
        self, targets: list, imp: Impairment, seeds: list[int], kind: type[Proxy] = UdpImpairer
    ) -> None:
        import multiprocessing as mp

        def make() -> list[Proxy]:
            return [kind(t, imp, s) for t, s in zip(targets, seeds, strict=True)]

        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(make, child), daemon=True)
        self._proc.start()
        got = self._conn.recv()
        if isinstance(got, str):
            self._proc.join(5)
            raise RuntimeError(got)
        self.endpoints: list = got

    @property
    def ports(self) -> list[int]:
        return self.endpoints

    def close(self) -> list[dict[str, int]]:
        self._conn.send("stop")
        counts = self._conn.recv()
        self._proc.join(5)
        return counts
