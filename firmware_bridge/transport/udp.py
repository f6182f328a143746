"""``udp://HOST:PORT``: one frame per datagram (gateway: connected; board: bound)."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import SplitResult

from .base import Link, LinkError, LinkSpec


def parse(url: str, parts: SplitResult, opts: dict[str, str]) -> LinkSpec:
    try:
        port = parts.port
    except ValueError:
        port = None
    if opts or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise LinkError(f"link {url!r}: expected udp://HOST:PORT (no path, no options)")
    return LinkSpec(url, "udp", parts.hostname, port)


def open(spec: LinkSpec, *, server: bool, pty_dir: Path | None, wait_s: float) -> Link:
    return UdpLink(spec, server)


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
