"""Fault injection and frame counting through the live gateway (``Gateway(opener=TapLinks)``).

``TapLinks`` wraps every link the gateway opens:

- **per-request failure**: with probability ``p`` a board misses a whole request: every
  INFER / INFER_STAGE frame the gateway sends it under that request id is swallowed (one
  seeded draw per board and request, so a multi-stage request fails or survives as a whole,
  as a device does). Control frames (PROBE) pass, so a board is never marked failed for good;
  the gateway's miss counter is lifted meanwhile (``inject``).
- **dead boards**: a board in ``dead`` gets no frame at all and none of its frames reach the
  gateway, as if it were unplugged; the gateway marks it down by its own rules.
- **counting**: the bytes and frames of request traffic (INFER, INFER_STAGE, RESULT, TENSOR,
  ERROR) both ways, as sent on the link (UDP: the datagram; HELLO, PROBE and HEARTBEAT are not
  counted), so bytes per inference are measured from real frames for every strategy alike.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from pathlib import Path

import numpy as np

import firmware_bridge as fb
from experiments.bench.figures import fig

REQUEST_TYPES = frozenset({fb.MsgType.INFER, fb.MsgType.INFER_STAGE})
REPLY_TYPES = frozenset({fb.MsgType.RESULT, fb.MsgType.TENSOR, fb.MsgType.ERROR})


def _header(data: bytes) -> tuple[int, int] | None:
    """(message type, request id) of a UDP frame, None for anything shorter than a header."""
    if len(data) < fb.protocol.HEADER_SIZE or data[0] != fb.protocol.MAGIC:
        return None
    return data[2], struct.unpack_from("<I", data, 6)[0]


class _TapLink:
    def __init__(self, inner, taps: TapLinks, board_id: int, name: str) -> None:
        self.inner, self.taps, self.board_id, self.name = inner, taps, board_id, name

    def send(self, data: bytes) -> None:
        if self.name in self.taps.dead:
            return
        head = _header(data)
        if head is not None and head[0] in REQUEST_TYPES:
            if self.taps.fails(self.board_id, head[1]):
                self.taps.dropped += 1
                return
            self.taps.count("sent", len(data))
        self.inner.send(data)

    def recv(self, timeout: float) -> bytes:
        data = self.inner.recv(timeout)
        if not data:
            return data
        if self.name in self.taps.dead:
            return b""
        head = _header(data)
        if head is not None and head[0] in REPLY_TYPES:
            self.taps.count("received", len(data))
        return data

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


class TapLinks:
    """The opener the gateway uses, plus the failure settings and counters its links share."""

    def __init__(self, seed: int) -> None:
        self.p, self.seed, self.dropped = 0.0, seed, 0
        self.dead: set[str] = set()
        self.counts = {"sent": 0, "received": 0, "frames_sent": 0, "frames_received": 0}

    def __call__(self, spec, pty_dir: Path):
        from vp_edge.gateway.core import default_opener

        return _TapLink(default_opener(spec, pty_dir), self, spec.id, spec.name)

    def fails(self, board_id: int, request_id: int) -> bool:
        """The board's seeded draw for this request (the same for every frame of it)."""
        if self.p <= 0.0:
            return False
        h = hashlib.blake2b(
            struct.pack("<QHI", self.seed, board_id, request_id), digest_size=8
        ).digest()
        return int.from_bytes(h, "little") / 2.0**64 < self.p

    def count(self, way: str, nbytes: int) -> None:
        self.counts[way] += nbytes
        self.counts[f"frames_{way}"] += 1

    def reset_counts(self) -> dict:
        """The counts so far, zeroed for the next measurement."""
        out = dict(self.counts)
        self.counts = dict.fromkeys(self.counts, 0)
        return out


async def inject(
    gw, taps: TapLinks, x: np.ndarray, y: np.ndarray, grid: tuple[float, ...], deadline_s: float
) -> list[dict]:
    """Answered share and top-1 for each p, through the gateway, with a short deadline."""
    saved = gw.dep, gw.fail_after
    gw.dep = dataclasses.replace(gw.dep, deadline_s=deadline_s)
    gw.fail_after = 1 << 30
    rows = []
    try:
        for p in grid:
            taps.p, answered, correct = p, 0, 0
            for i in range(len(x)):
                a = await gw.classify(x[i], int(y[i]))
                answered += a.winner is not None
                correct += a.winner == int(y[i])
            how = (
                f"{len(x)} requests through the gateway, each board misses a whole request "
                f"with probability p, deadline {deadline_s * 1000:g} ms"
            )
            rows.append(
                {
                    "p": fig(p, "modelled", "", "per-board failure probability (set)"),
                    "available": fig(answered / len(x), "measured", "", how),
                    "accuracy": fig(
                        correct / len(x), "measured", "", how + ", unanswered count as wrong"
                    ),
                }
            )
    finally:
        taps.p = 0.0
        gw.dep, gw.fail_after = saved
    return rows
