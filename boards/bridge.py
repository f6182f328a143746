"""A serial microcontroller joins a fleet: COBS frames on its UART <-> one MQTT message each.

This is how such boards reach brokers in the field (a gateway host or a Wi-Fi module forwards
their UART). The bridge holds no key: it splits the byte stream at the 0x00 delimiters,
COBS-decodes each block and publishes it unchanged on ``vp/<deployment>/board/<id>/tx``; what
arrives on ``.../rx`` goes to the UART as ``0x00 + COBS(frame) + 0x00``. Authentication and replay
protection stay between the gateway and the board. Malformed or over-long blocks are counted
and dropped here (the gateway would drop them anyway); both links reopen after an error.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from firmware_bridge import MAX_FRAME
from firmware_bridge.errors import VpEdgeError
from firmware_bridge.protocol import cobs
from firmware_bridge.protocol.frame import to_serial
from firmware_bridge.transport import Link, LinkError, for_board, open_link, parse_link

log = logging.getLogger(__name__)


class CobsSplitter:
    """Bytes of a COBS stream -> raw frames (no authentication: that is the far end's job)."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_encoded = cobs.max_encoded_len(max_frame)
        self.buf = bytearray()
        self.overflow = False
        self.counts = {"bad_cobs": 0, "too_long": 0}

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        for i, piece in enumerate(bytes(data).split(b"\x00")):
            if i:  # a delimiter ended the block before this piece
                self._finish(out)
            if not self.overflow:
                self.buf += piece
                if len(self.buf) > self.max_encoded:
                    self.overflow, self.buf = True, bytearray()
        return out

    def _finish(self, out: list[bytes]) -> None:
        block, overflow = bytes(self.buf), self.overflow
        self.buf, self.overflow = bytearray(), False
        if overflow:
            self.counts["too_long"] += 1
        elif block:
            raw = cobs.decode(block)
            if raw is None:
                self.counts["bad_cobs"] += 1
            else:
                out.append(raw)


@dataclass
class Bridge:
    """One board's UART and its two MQTT topics, forwarded both ways until ``stop`` is set."""

    serial_url: str
    mqtt_url: str
    pty_dir: Path | None = None
    baud: int | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    counts: dict[str, int] = field(default_factory=lambda: {"up": 0, "down": 0, "reopens": 0})

    def __post_init__(self) -> None:
        if parse_link(self.serial_url).framing != "stream":
            raise LinkError(
                f"bridge: {self.serial_url} is not a serial link "
                "(serial://, pty://, socket://, rfc2217://)"
            )
        if parse_link(self.mqtt_url).scheme not in ("mqtt", "mqtts"):
            raise LinkError(f"bridge: {self.mqtt_url} is not an mqtt:// or mqtts:// link")
        self.splitter = CobsSplitter()
        # the first open fails fast: a mistyped device is a usage error, not an outage to ride out
        self.uart: Link | None = open_link(self.serial_url, pty_dir=self.pty_dir, baud=self.baud)
        try:
            self.broker: Link = open_link(self.mqtt_url, server=True)  # the board's side
        except BaseException:
            self.uart.close()
            raise
        self._outage = False

    def _uart(self) -> Link | None:
        """The UART, reopened after an error; each outage is logged once, when it starts."""
        if self.uart is None:
            try:
                self.uart = open_link(self.serial_url, pty_dir=self.pty_dir, baud=self.baud)
            except LinkError as e:
                if not self._outage:
                    log.warning("bridge: %s; retrying every 0.2 s", e)
                self._outage = True
                self.stop.wait(0.2)
            else:
                if self._outage:
                    log.warning("bridge: %s reopened", self.serial_url)
                self._outage = False
        return self.uart

    def _up(self) -> None:
        while not self.stop.is_set():
            uart = self._uart()
            if uart is None:
                continue
            try:
                data = uart.recv(0.1)
            except LinkError:
                self.uart = None
                self.counts["reopens"] += 1
                continue
            for frame in self.splitter.feed(data) if data else ():
                self.broker.send(frame)
                self.counts["up"] += 1

    def _down(self) -> None:
        while not self.stop.is_set():
            frame = self.broker.recv(0.1)
            uart = self.uart
            if frame and uart is not None:
                try:
                    uart.send(b"\x00" + to_serial(frame))
                    self.counts["down"] += 1
                except LinkError:
                    self.uart = None

    def run(self) -> dict:
        """Forward until ``stop``; returns the counts (frames up/down, drops, reopens)."""
        down = threading.Thread(target=self._down, daemon=True, name="bridge-down")
        down.start()
        try:
            self._up()
        finally:
            self.stop.set()
            down.join(2)
            self.close()
        return {**self.counts, **self.splitter.counts}

    def close(self) -> None:
        if self.uart is not None:
            self.uart.close()
        self.broker.close()


def check_bridge(
    serial_url: str, mqtt_url: str, board_id: int | None, pty_dir: Path | None
) -> None:
    """Refuse, before opening anything, a bridge that names no board (neither ``board_id`` nor
    a /ID at the end of the MQTT URL) or a pty:// link without the folder it is published in."""
    if board_id is None and mqtt_url.split("?")[0].rstrip("/").count("/") < 4:
        raise VpEdgeError(f"{mqtt_url} names no board: pass --board-id ID or end it with /ID")
    if serial_url.startswith("pty://") and pty_dir is None:
        raise VpEdgeError(
            f"{serial_url}: a pty:// link needs --pty-dir DIR, the pty folder "
            "of 'vp-edge emulate' (the state folder's pty/)"
        )


def bridge(
    serial_url: str,
    mqtt_url: str,
    board_id: int | None = None,
    pty_dir: Path | None = None,
    baud: int | None = None,
) -> Bridge:
    """A bridge for ``board_id`` (needed when the MQTT URL names only the deployment)."""
    check_bridge(serial_url, mqtt_url, board_id, pty_dir)
    if board_id is not None:
        mqtt_url = for_board(mqtt_url, board_id)
    return Bridge(serial_url, mqtt_url, pty_dir=pty_dir, baud=baud)
