"""What the gateway hands out and keeps per board: ``Answer`` (one per request) and ``Board``.

In their own module so the gateway core and the strategy part driver (``parts``) both use them
without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import firmware_bridge as fb
from boards.registry import BoardAdapter
from firmware_bridge.transport import Link, parse_link
from vp_edge.deployment import BoardSpec
from vp_edge.gateway.stats import BoardStats

#: requests a board on a serial line may hold unanswered before the gateway stops sending it
#: more (each waits behind the others; a slow line would block the gateway's writes)
SERIAL_BACKLOG = 4


@dataclass
class Answer:
    """The gateway's one answer to one request."""

    index: int
    request_id: int
    winner: int | None
    scores: tuple[float, ...]
    voters: tuple[str, ...]
    answered: tuple[str, ...]
    missing: tuple[str, ...]
    degraded: bool
    latency_s: float
    error: str | None = None
    label: int | None = None
    wire: dict | None = None  # strategy deployments: the request's frames and bytes both ways
    client_id: object = None  # the id the client gave its request (front ends), else None
    at: float = 0.0  # when it was answered (time.time(): the status page's time axis)
    models: dict | None = None  # board -> the model it answered under, when one was re-learnt

    def to_dict(self) -> dict:
        d = dict(vars(self))
        d["latency_ms"] = round(d.pop("latency_s") * 1000, 3)
        del d["at"]
        for key in ("wire", "client_id", "models"):
            if d[key] is None:
                del d[key]
        return d


@dataclass
class Board:
    """Gateway-side state of one board."""

    spec: BoardSpec
    adapter: BoardAdapter
    stats: BoardStats
    link: Link | None = None
    #: the relay URL of the other gateway of this deployment that holds the board's serial
    #: line, while this gateway reaches the board through it ("": its own link)
    via: str = ""
    hello: fb.Hello | None = None
    up: bool = False
    refused: str | None = None
    consecutive: int = 0
    last_seen: float = 0.0
    last_result: float = 0.0
    #: when its reader thread last decoded an authentic frame, and last looked (monotonic)
    heard: float = 0.0
    polled: float = 0.0
    #: why the gateway marked it down (None while up or never seen) and when (monotonic)
    down_why: str | None = None
    down_at: float = 0.0
    card: dict | None = None  # the card of the model its HELLO names (vp deployments)
    model: str = ""  # its vote identity: the variant, or VARIANT@HASH for a model of another run

    def backlogged(self, pending: Iterable) -> bool:
        """Whether a serial board already holds ``SERIAL_BACKLOG`` requests it has not
        answered: another one would only wait behind them, and its frames would fill the
        line's buffer until writing to it blocks the gateway's event loop (every other
        board's answers with it). UDP boards are never skipped: a datagram never blocks."""
        if parse_link(self.spec.link).scheme not in ("pty", "serial"):
            return False
        name = self.spec.name
        waiting = sum(
            name in r.targets and name not in r.results and name not in r.failed for r in pending
        )
        return waiting >= SERIAL_BACKLOG
