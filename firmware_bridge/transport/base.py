"""The link layer: one ``Link`` (raw bytes), one ``LinkError``, one ``open_link(url)``.

A link URL's scheme picks its handler module from ``SCHEMES`` (imported only when used); a new
transport is one module with ``parse(url, parts, options) -> LinkSpec`` and
``open(spec, server=..., pty_dir=..., wait_s=...) -> Link``, registered with
``register_scheme``. Links move bytes only: ``framing`` says whether one ``recv`` is one frame
("datagram") or a piece of a COBS byte stream ("stream"); ``FrameLink`` turns either into frames.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..errors import BridgeError

DEFAULT_BAUD = 115200
_PKG = "firmware_bridge.transport"
#: scheme -> handler module (lazily imported)
SCHEMES: dict[str, str] = {
    "udp": f"{_PKG}.udp",
    "serial": f"{_PKG}.serialport",
    "socket": f"{_PKG}.serialport",
    "rfc2217": f"{_PKG}.serialport",
    "loop": f"{_PKG}.serialport",
    "pty": f"{_PKG}.ptylink",
    "mqtt": f"{_PKG}.mqtt",
    "mqtts": f"{_PKG}.mqtt",
    "relay": f"{_PKG}.relay",
}
#: schemes whose one message is one frame (the rest are COBS byte streams)
DATAGRAM_SCHEMES = {"udp", "mqtt", "mqtts", "relay"}
LINK_FORMS = (
    "udp://HOST:PORT, serial:///dev/ttyUSB0?baud=115200, socket://HOST:PORT, "
    "rfc2217://HOST:PORT, loop://, pty://NAME or mqtt://BROKER:1883/DEPLOYMENT"
)


class LinkError(BridgeError):
    """A link URL is malformed, or the link cannot be opened or used (exit code 3)."""

    exit_code = 3


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
        return "datagram" if self.scheme in DATAGRAM_SCHEMES else "stream"

    @property
    def baud(self) -> int:
        return int(self.options.get("baud", DEFAULT_BAUD))


class Link:
    """Raw byte transport. ``recv`` returns b"" when nothing arrived within ``timeout``."""

    framing: str = "stream"  # per class; a wrapper link takes its inner link's

    def __init__(self, url: str) -> None:
        self.url = url
        self.bytes_sent = 0
        self.bytes_received = 0

    def send(self, data: bytes) -> None:
        raise NotImplementedError

    def recv(self, timeout: float) -> bytes:
        raise NotImplementedError

    def confirm_peer(self) -> None:
        """The last data received held an authenticated frame: a link that answers whoever
        spoke last (a UDP board) may now adopt its sender. Others have nothing to learn."""

    def send_unsolicited(self, data: bytes) -> None:
        """A frame no request asked for (HELLO, HEARTBEAT): to every peer the link knows."""
        self.send(data)

    def close(self) -> None:
        """Release the link; idempotent."""

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def register_scheme(scheme: str, module: str) -> None:
    """Make ``scheme://`` links open through ``module`` (e.g. a fleet's ``mqtt``)."""
    SCHEMES[scheme] = module


def _handler(scheme: str, url: str) -> Any:
    module = SCHEMES.get(scheme)
    if module is None:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise LinkError(
            f"link {url!r}: unknown scheme {scheme!r}; expected {LINK_FORMS} "
            f"(known schemes: {known})"
        )
    return importlib.import_module(module)


def for_board(url: str, board_id: int) -> str:
    """A link URL completed with the board it serves, where its scheme names boards (mqtt)."""
    module = SCHEMES.get(urlsplit(url).scheme)
    handler = importlib.import_module(module) if module else None
    if handler is None or not hasattr(handler, "for_board"):
        return url
    return handler.for_board(url, board_id)


def parse_link(url: str) -> LinkSpec:
    """Parse and check a link URL (a bare device path is ``serial://``)."""
    if "://" not in url and url.startswith("/"):
        url = f"serial://{url}"
    parts = urlsplit(url)
    try:
        opts = dict(parse_qsl(parts.query, strict_parsing=bool(parts.query)))
    except ValueError:
        raise LinkError(f"link {url!r}: malformed options; expected {LINK_FORMS}") from None
    return _handler(parts.scheme, url).parse(url, parts, opts)


def open_link(
    url: str,
    *,
    server: bool = False,
    pty_dir: Path | None = None,
    wait_s: float = 0.0,
    baud: int | None = None,
) -> Link:
    """Open the client (gateway) or server (board) end of a link URL.

    ``baud`` is the default for serial links whose URL names none (``?baud=`` wins).
    """
    spec = parse_link(url)
    if baud is not None and "baud" not in spec.options and spec.framing == "stream":
        spec = LinkSpec(
            spec.url,
            spec.scheme,
            spec.host,
            spec.port,
            spec.path,
            {**spec.options, "baud": str(baud)},
        )
    return _handler(spec.scheme, url).open(spec, server=server, pty_dir=pty_dir, wait_s=wait_s)
