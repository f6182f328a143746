"""The gateway's link side: a reader thread per board that opens (and reopens) its link and
hands decoded frames to the event loop, and the one path by which frames go out."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import firmware_bridge as fb
from boards.registry import get_kind
from firmware_bridge.transport import Link, LinkError, parse_link
from firmware_bridge.transport.relay import serial_relay
from vp_edge.gateway.answer import Board
from vp_edge.gateway.stats import BoardStats

if TYPE_CHECKING:  # pragma: no cover
    from vp_edge.deployment import BoardSpec, Deployment


class BoardLinks:
    """The ``Gateway``'s link half (a mixin: it uses the gateway's deployment, keys, sender,
    counters and loop, and hands frames to its ``_on_frames``)."""

    # what the gateway that mixes this in provides
    dep: Deployment
    keys: Any
    tx: fb.Sender
    counts: dict[str, int]
    opener: Callable[[BoardSpec, Path], Link]
    relay: Any  # the relay this gateway serves (None: another gateway's, or none)
    _closing: threading.Event
    _loop: asyncio.AbstractEventLoop | None

    def _on_frames(self, b: Board, frames: list[fb.Frame], t: float) -> None:
        raise NotImplementedError  # the gateway's own

    @property
    def relay_home(self) -> Path:
        raise NotImplementedError  # the gateway's own: the folder of the deployment's relay

    def _board(self, spec: BoardSpec) -> Board:
        kind = get_kind(spec.kind)
        auth = fb.Auth(self.keys, {spec.id}, role="gateway")
        framing = parse_link(spec.link).framing
        return Board(spec, kind(auth, framing), BoardStats(spec))

    def _reader(self, b: Board) -> None:
        """Open (and reopen) the board's link; decode what arrives; pass frames to the loop."""
        while not self._closing.is_set():
            if b.link is None:
                try:
                    b.link = self._open(b)
                except LinkError:
                    self._closing.wait(0.2)
                    continue
            try:
                data = b.link.recv(0.1)
            except LinkError:
                link, b.link = b.link, None
                link.close()
                continue
            t = time.monotonic()
            if data:
                b.stats.bytes_received += len(data)
                frames = b.adapter.decode(data)
                if frames:
                    b.heard = t  # here, not on the loop: a lagging loop must not look like silence
                if frames and self._loop is not None and not self._loop.is_closed():
                    self._loop.call_soon_threadsafe(self._on_frames, b, frames, t)
            b.polled = t

    def _open(self, b: Board) -> Link:
        """Open ``b``'s link. A serial line admits one reader: while another gateway of this
        deployment holds it (its relay answers), this one goes through that relay, and back
        to the line itself once that gateway is gone (docs/protocol.md §5)."""
        via = "" if self.relay is not None else serial_relay(b.spec.link, self.relay_home) or ""
        if via != b.via:
            b.via = via
            b.adapter.reframe("datagram" if via else "stream")
        spec = dataclasses.replace(b.spec, link=via) if via else b.spec
        return self.opener(spec, self.dep.pty_dir)

    def drop(self, b: Board, reason: str) -> None:
        """Count a frame dropped for ``reason``, in the total and on the board it concerns."""
        self.counts[reason] += 1
        b.stats.drops[reason] = b.stats.drops.get(reason, 0) + 1

    def _send(self, b: Board, msg: fb.Message, rid: int) -> int:
        """Bytes put on ``b``'s link for ``msg`` (0: the link is down)."""
        return self.send_raw(b, self.tx.frame(msg, rid, board_id=b.spec.id))

    def send_raw(self, b: Board, frame: bytes) -> int:
        """Bytes put on ``b``'s link for one encoded frame (ours, or a relayed one)."""
        link = b.link
        if link is None:
            self.drop(b, "link_down")
            return 0
        data = b.adapter.encode(frame)
        try:
            link.send(data)
        except LinkError:
            self.drop(b, "link_down")
            return 0
        b.stats.bytes_sent += len(data)
        return len(data)
