"""Links are URLs: UDP datagrams, serial streams through ``serial.serial_for_url``, and ptys.

Forms (``LINK_FORMS``)::

    udp://HOST:PORT                       one frame per datagram (gateway: connect; board: bind)
    serial:///dev/ttyUSB0?baud=115200     a serial port (COBS frames, PROTOCOL.md section 5)
    socket://HOST:PORT  rfc2217://HOST:PORT  loop://    pyserial's own URL handlers
    pty://NAME                            an emulated board's pseudo-terminal, whose path the
                                          emulator writes to PTY_DIR/NAME

A link moves raw bytes only: ``framing`` says whether one ``recv`` is one frame ("datagram")
or a piece of a COBS byte stream ("stream"); decoding is the caller's (firmware_bridge).
"""

from __future__ import annotations

import os
import socket
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qsl, urlsplit

from boards.profiles import wire_seconds
from vp_edge.errors import BoardError

LINK_FORMS = (
    "udp://HOST:PORT, serial:///dev/ttyUSB0?baud=115200, socket://HOST:PORT, "
    "rfc2217://HOST:PORT, loop:// or pty://NAME"
)
SERIAL_SCHEMES = ("socket", "rfc2217", "loop")
DEFAULT_BAUD = 115200


class LinkError(BoardError):
    """A link URL is malformed or the link cannot be opened or used."""


@dataclass(frozen=True)
class LinkSpec:
    """A parsed link URL."""

    url: str
    scheme: str
    host: str = ""
    port: int = 0
    path: str = ""
    options: dict[str, str] = field(default_factory=dict)

    @property
    def framing(self) -> str:
        return "datagram" if self.scheme == "udp" else "stream"

    @property
    def baud(self) -> int:
        return int(self.options.get("baud", DEFAULT_BAUD))


def parse_link(url: str) -> LinkSpec:
    """Parse and check a link URL; the error quotes the expected forms."""
    parts = urlsplit(url)
    scheme = parts.scheme
    try:
        opts = dict(parse_qsl(parts.query, strict_parsing=bool(parts.query)))
    except ValueError:
        raise LinkError(f"link {url!r}: malformed options; expected {LINK_FORMS}") from None
    if scheme == "udp":
        return _udp(url, parts, opts)
    if scheme in ("serial", "pty", *SERIAL_SCHEMES):
        return _serialish(url, scheme, parts, opts)
    raise LinkError(f"link {url!r}: unknown scheme {scheme!r}; expected {LINK_FORMS}")


def _udp(url: str, parts, opts: dict[str, str]) -> LinkSpec:
    try:
        port = parts.port
    except ValueError:
        port = None
    if opts or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise LinkError(f"link {url!r}: expected udp://HOST:PORT (no path, no options)")
    return LinkSpec(url, "udp", parts.hostname, port)


def _serialish(url: str, scheme: str, parts, opts: dict[str, str]) -> LinkSpec:
    unknown = set(opts) - {"baud"} if scheme in ("serial", "pty") else set()
    if unknown:
        raise LinkError(f"link {url!r}: unknown option(s) {sorted(unknown)}; only ?baud=N")
    if "baud" in opts and not (opts["baud"].isdigit() and int(opts["baud"]) > 0):
        raise LinkError(f"link {url!r}: baud must be a positive integer, e.g. ?baud=115200")
    if scheme == "serial" and not parts.path:
        raise LinkError(f"link {url!r}: expected serial:///dev/ttyUSB0?baud=115200")
    if scheme == "pty" and not (parts.netloc and parts.path in ("", "/")):
        raise LinkError(f"link {url!r}: expected pty://NAME (letters, digits, - and _)")
    return LinkSpec(url, scheme, parts.hostname or "", 0, parts.netloc + parts.path, opts)


class Link:
    """Raw byte transport. ``recv`` returns b"" when nothing arrived within ``timeout``."""

    framing: ClassVar[str] = "stream"

    def __init__(self, url: str) -> None:
        self.url = url
        self.bytes_sent = 0
        self.bytes_received = 0

    def send(self, data: bytes) -> None:
        raise NotImplementedError

    def recv(self, timeout: float) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        """Release the link; idempotent."""


class UdpLink(Link):
    """A UDP socket. Client: connected to the board. Server: bound, replies to the last peer."""

    framing = "datagram"

    def __init__(self, spec: LinkSpec, server: bool) -> None:
        super().__init__(spec.url)
        self.server = server
        self.peer: tuple | None = None
        try:
            info = socket.getaddrinfo(spec.host, spec.port, type=socket.SOCK_DGRAM)[0]
            self.sock = socket.socket(info[0], socket.SOCK_DGRAM)
            if server:
                self.sock.bind(info[4])
            else:
                self.sock.connect(info[4])
        except OSError as e:
            raise LinkError(f"link {spec.url}: cannot open UDP socket: {e}") from None

    @property
    def address(self) -> tuple:
        return self.sock.getsockname()

    def send(self, data: bytes) -> None:
        try:
            if self.server:
                if self.peer is None:
                    return  # nobody to answer yet
                self.sock.sendto(data, self.peer)
            else:
                self.sock.send(data)
            self.bytes_sent += len(data)
        except OSError:
            pass  # UDP: a lost datagram is a lost datagram; the peer's deadline handles it

    def recv(self, timeout: float) -> bytes:
        self.sock.settimeout(max(timeout, 1e-3))
        try:
            data, peer = self.sock.recvfrom(65536)
        except (TimeoutError, ConnectionRefusedError):
            return b""  # refused: the board's port is closed (ICMP), it is down
        except OSError as e:
            raise LinkError(f"link {self.url}: {e}") from None
        if self.server:
            self.peer = peer
        self.bytes_received += len(data)
        return data

    def close(self) -> None:
        self.sock.close()


class SerialLink(Link):
    """A pyserial port from ``serial.serial_for_url`` (serial://, socket://, rfc2217://, loop://)."""

    def __init__(self, spec: LinkSpec, target: str) -> None:
        super().__init__(spec.url)
        import serial

        try:
            self.port = serial.serial_for_url(target, baudrate=spec.baud, timeout=0.05)
        except (serial.SerialException, ValueError, OSError) as e:
            raise LinkError(f"link {spec.url}: cannot open {target}: {e}") from None

    def send(self, data: bytes) -> None:
        import serial

        try:
            self.port.write(data)
            self.bytes_sent += len(data)
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"link {self.url}: write failed: {e}") from None

    def recv(self, timeout: float) -> bytes:
        import serial

        try:  # setting the timeout reconfigures the port: it fails too once the pty is gone
            self.port.timeout = max(timeout, 1e-3)
            data = self.port.read(max(1, self.port.in_waiting))
        except (serial.SerialException, OSError, TypeError) as e:
            raise LinkError(f"link {self.url}: read failed: {e}") from None
        self.bytes_received += len(data)
        return bytes(data)

    def close(self) -> None:
        self.port.close()


def pty_path(name: str, pty_dir: Path) -> Path:
    """The file where the emulator of board ``name`` writes its pty's path."""
    return Path(pty_dir) / f"{name}.pty"


def resolve_pty(spec: LinkSpec, pty_dir: Path | None, wait_s: float = 0.0) -> str:
    """The /dev/pts path behind pty://NAME, waiting up to ``wait_s`` for the emulator."""
    if pty_dir is None:
        raise LinkError(f"link {spec.url}: pty links need the emulator's pty directory")
    f = pty_path(spec.path, pty_dir)
    end = time.monotonic() + wait_s
    while True:
        if f.exists() and (path := f.read_text().strip()):
            return path
        if time.monotonic() >= end:
            raise LinkError(
                f"link {spec.url}: no emulated board has published {f}; "
                "start it with 'vp-edge emulate --deployment FILE'"
            )
        time.sleep(0.05)


def open_link(url: str, *, server: bool = False, pty_dir: Path | None = None,
              wait_s: float = 0.0) -> Link:
    """Open the client (gateway) or server (board) end of a link URL."""
    spec = parse_link(url)
    if spec.scheme == "udp":
        return UdpLink(spec, server)
    if spec.scheme == "pty":
        if server:
            return PtyLink(spec, pty_dir)
        return SerialLink(spec, resolve_pty(spec, pty_dir, wait_s))
    if spec.scheme == "serial":
        return SerialLink(spec, spec.path)
    raw = spec.url.split("?", 1)[0]
    extra = "&".join(f"{k}={v}" for k, v in spec.options.items() if k != "baud")
    return SerialLink(spec, raw + ("?" + extra if extra else ""))


class PtyLink(Link):
    """Board side of an emulated serial line: a pty master; the slave path is published."""

    def __init__(self, spec: LinkSpec, pty_dir: Path | None) -> None:
        super().__init__(spec.url)
        if pty_dir is None:
            raise LinkError(f"link {spec.url}: a pty board needs a pty directory to publish in")
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.published = pty_path(spec.path, pty_dir)
        self.published.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.published.with_suffix(".tmp")
        tmp.write_text(self.path + "\n")
        os.replace(tmp, self.published)

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.master, view)
            view = view[n:]
        self.bytes_sent += len(data)

    def recv(self, timeout: float) -> bytes:
        import select

        ready, _, _ = select.select([self.master], [], [], max(timeout, 0.0))
        if not ready:
            return b""
        try:
            data = os.read(self.master, 4096)
        except OSError:
            return b""
        self.bytes_received += len(data)
        return data

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            if self.published.read_text().strip() == self.path:
                self.published.unlink()
        except OSError:
            pass


class ThrottledLink(Link):
    """Wraps a stream link so it moves bytes no faster than a UART at ``baud`` (10 bits/byte).

    Sending sleeps for the bytes' wire time; received bytes are handed over only when their
    last bit would have arrived, so a frame takes as long as on real hardware.
    """

    def __init__(self, inner: Link, baud: int) -> None:
        super().__init__(inner.url)
        self.inner, self.baud = inner, baud
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

    def close(self) -> None:
        self.inner.close()
