"""``relay:///PATH/gateway.sock``: reach a serial board through the gateway that holds its line.

A UART admits one client: while a gateway serves a board over ``serial://`` or ``pty://``,
``vp-edge flash`` (or a probe) cannot open the port. The running gateway therefore listens on
a Unix datagram socket in its deployment's state folder and relays frames: a datagram from a
client is one frame (the UDP form), written unchanged onto the board's line named by the
frame's ``board_id``; the board's replies that echo one of the client's request ids come back
as datagrams, byte for byte as the board signed them. The gateway holds no extra trust: frames
keep their tags and counters end to end (docs/protocol.md §5), and the board keeps the client's
replay window apart from the gateway's (§4).
"""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path
from urllib.parse import SplitResult

from .base import Link, LinkError, LinkSpec, parse_link

#: where a gateway listens for relayed frames, in its deployment's state folder
SOCKET_NAME = "gateway.sock"


def parse(url: str, parts: SplitResult, opts: dict[str, str]) -> LinkSpec:
    if opts or parts.netloc or not parts.path:
        raise LinkError(f"link {url!r}: expected relay:///PATH/TO/{SOCKET_NAME}")
    return LinkSpec(url, "relay", path=parts.path)


def open(spec: LinkSpec, *, server: bool, pty_dir: Path | None, wait_s: float) -> Link:
    if server:
        raise LinkError(f"link {spec.url}: a relay is opened by the gateway, not served")
    return RelayLink(spec)


def gateway_relay(state_dir: Path) -> str | None:
    """The relay URL of a gateway running for a deployment (None when none answers)."""
    path = state_dir / SOCKET_NAME
    if not path.exists():
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        try:
            s.connect(str(path))
        except OSError:
            return None  # a socket file left by a gateway that is gone
    return f"relay://{path}"


def serial_relay(link: str, state_dir: Path) -> str | None:
    """The relay URL to reach a board on ``link`` by: the running gateway's (``gateway_relay``)
    when the link is a serial line, which that gateway holds; None when it is not one, or no
    gateway runs."""
    return gateway_relay(state_dir) if parse_link(link).framing == "stream" else None


class RelayLink(Link):
    """Client end: frames to the gateway's relay socket, replies from it."""

    framing = "datagram"

    def __init__(self, spec: LinkSpec) -> None:
        super().__init__(spec.url)
        self.gone = ""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:  # an abstract address (Linux): nothing to clean up, unique per client
            self.sock.bind(f"\0vp-edge-relay-{os.getpid()}-{secrets.token_hex(4)}")
            self.sock.connect(spec.path)
        except OSError as e:
            self.sock.close()
            raise LinkError(f"link {spec.url}: no gateway relays here: {e.strerror or e}") from None

    def send(self, data: bytes) -> None:
        try:
            self.sock.send(data)
            self.bytes_sent += len(data)
        except OSError as e:
            self.gone = f"the gateway went away: {e.strerror or e}"
            raise LinkError(f"link {self.url}: {self.gone}") from None

    def recv(self, timeout: float) -> bytes:
        if self.gone:  # a datagram socket hears no hang-up: a failed send says it
            raise LinkError(f"link {self.url}: {self.gone}")
        self.sock.settimeout(max(timeout, 1e-3))
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return b""
        except OSError as e:
            raise LinkError(f"link {self.url}: {e.strerror or e}") from None
        self.bytes_received += len(data)
        return data

    def close(self) -> None:
        self.sock.close()
