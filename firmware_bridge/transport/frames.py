"""Frames over any link: COBS and the idle 0x00 on streams, one frame per datagram."""

from __future__ import annotations

import time

from ..protocol.frame import Auth, Frame, StreamDecoder, decode_datagram, to_serial
from .base import Link


class FrameLink:
    """Sends frames and returns the authenticated frames that arrive (``Auth`` decides)."""

    def __init__(self, link: Link, auth: Auth) -> None:
        self.link, self.auth = link, auth
        self.url = link.url
        self.decoder = StreamDecoder(auth) if link.framing == "stream" else None

    def send(self, frame: bytes) -> None:
        """One frame; on a stream a 0x00 first flushes line noise (docs/protocol.md §5)."""
        self.link.send(frame if self.decoder is None else b"\x00" + to_serial(frame))

    def recv(self, timeout: float) -> list[Frame]:
        """The frames accepted within ``timeout`` (returns as soon as one arrives)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            data = self.link.recv(min(left, 0.05))
            if not data:
                continue
            if self.decoder is not None:
                frames = self.decoder.feed(data)
            else:
                f = decode_datagram(data, self.auth)
                frames = [] if f is None else [f]
            if frames:
                return frames
        return []

    def close(self) -> None:
        self.link.close()
