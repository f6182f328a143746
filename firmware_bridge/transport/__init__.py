"""The transport layer: one ``Link`` (raw bytes), one ``LinkError``, one ``open_link(url)``.

One handler module per scheme (``udp``, ``serialport`` for serial/socket/rfc2217/loop through
pyserial's ``serial_for_url``, ``ptylink`` for emulated boards, ``mqtt`` for boards behind a
broker), looked up in ``SCHEMES`` by URL scheme; ``register_scheme("x", "my.module")`` adds
one. ``FrameLink`` carries authenticated frames over any link; ``ThrottledLink`` slows a
stream to a UART's speed.
"""

from .base import (
    DEFAULT_BAUD,
    LINK_FORMS,
    SCHEMES,
    Link,
    LinkError,
    LinkSpec,
    for_board,
    open_link,
    parse_link,
    register_scheme,
)
from .frames import FrameLink
from .ptylink import pty_path, resolve_pty
from .throttle import ThrottledLink, wire_seconds

__all__ = [
    "DEFAULT_BAUD",
    "LINK_FORMS",
    "SCHEMES",
    "FrameLink",
    "Link",
    "LinkError",
    "LinkSpec",
    "ThrottledLink",
    "for_board",
    "open_link",
    "parse_link",
    "pty_path",
    "register_scheme",
    "resolve_pty",
    "wire_seconds",
]
