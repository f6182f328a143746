"""Board kinds: an explicit registry of gateway-side adapters (like esptool's ``CHIP_DEFS``).

An adapter knows how frames travel on its kind's link (raw datagrams or COBS on a byte stream),
which link schemes fit, which runtime its emulated twin runs and its default profile. A kind
defined in its own module is a lazily imported entry (``"pynq": "boards.pynq:PynqBoard"``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import firmware_bridge as fb
from boards.errors import BoardError
from firmware_bridge import BoardKind


class BoardAdapter:
    """Gateway side of one board: frame encoding and decoding on its link."""

    kind: ClassVar[str] = ""
    description: ClassVar[str] = ""
    hello_kind: ClassVar[BoardKind] = BoardKind.UNKNOWN
    schemes: ClassVar[tuple[str, ...]] = ()
    runner: ClassVar[str] = "litert"  # what the emulated twin runs
    default_profile: ClassVar[str] = ""

    def __init__(self, auth: fb.Auth, framing: str, max_frame: int = fb.MAX_FRAME) -> None:
        self.auth, self.max_frame = auth, max_frame
        self.reframe(framing)

    def reframe(self, framing: str) -> None:
        """Decode ``framing`` from now on ("stream" or "datagram"), keeping the replay windows
        (a serial board reached through another gateway's relay arrives as datagrams)."""
        self.framing = framing
        self._stream = fb.StreamDecoder(self.auth, self.max_frame) if framing == "stream" else None

    def encode(self, frame: bytes) -> bytes:
        """Bytes to put on the link for one frame."""
        return frame if self._stream is None else fb.to_serial(frame)

    def decode(self, data: bytes) -> list[fb.Frame]:
        """Accepted frames in ``data`` (a datagram or a piece of the byte stream)."""
        if self._stream is not None:
            return self._stream.feed(data)
        f = fb.decode_datagram(data, self.auth, self.max_frame)
        return [] if f is None else [f]


class LinuxBoard(BoardAdapter):
    kind = "linux"
    description = "Linux board (e.g. Raspberry Pi) running 'vp-edge board serve' over UDP"
    hello_kind = BoardKind.LINUX
    schemes = ("udp", "mqtt", "mqtts")
    runner = "litert"
    default_profile = "raspberry-pi-4"


class McuBoard(BoardAdapter):
    kind = "mcu"
    description = "microcontroller with tflite-micro behind a UART (COBS frames)"
    hello_kind = BoardKind.MCU
    schemes = ("serial", "pty", "socket", "rfc2217", "loop", "mqtt", "mqtts")  # mqtt: bridged
    runner = "tflm"
    default_profile = "cortex-m4"


class QemuBoard(McuBoard):
    """The board firmware (firmware_bridge/firmware) on a Cortex-M4 in QEMU: an mcu on the wire.

    Its own kind because it is provisioned and flashed, not started with a model: emulation
    boots QEMU, loads the variant's .vpw with ``vp-edge flash`` and then publishes the UART.
    """

    kind = "qemu"
    description = (
        "board firmware (C engine, .vpw) in QEMU, the target picked by the profile "
        "(mps2-an386 Cortex-M4 by default, stm32f405 on netduinoplus2, cortex-m7, "
        "cortex-m33); UART over a pty, model loaded with 'vp-edge flash'"
    )
    runner = "engine"
    default_profile = "cortex-m4"


class Registry(Mapping[str, Any]):
    """A name -> class table whose entries may be ``"module:Class"`` specs, imported on first
    use: a back end in its own module (``boards.pynq``) is registered without importing it, so
    registries and back ends never import each other."""

    def __init__(self, entries: dict[str, Any]) -> None:
        self._entries = dict(entries)

    def __getitem__(self, name: str) -> Any:
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            entry = self._entries[name] = getattr(importlib.import_module(module), attr)
        return entry

    def __setitem__(self, name: str, entry: Any) -> None:
        self._entries[name] = entry

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


BOARDS: Registry = Registry(
    {"linux": LinuxBoard, "mcu": McuBoard, "qemu": QemuBoard, "pynq": "boards.pynq:PynqBoard"}
)


def link_problem(kind: type[BoardAdapter], scheme: str) -> str | None:
    """Why a board of ``kind`` cannot serve on a ``scheme://`` link (None if it can): one rule
    for deployment files and ``vp-edge board serve``."""
    if scheme in kind.schemes:
        return None
    return f"a {kind.kind} board takes {', '.join(kind.schemes)} links, not {scheme}://"


def get_kind(kind: str) -> type[BoardAdapter]:
    """The adapter class of a board kind, or an error listing the known kinds."""
    try:
        return BOARDS[kind]
    except KeyError:
        raise BoardError(f"unknown board kind {kind!r}; known: {', '.join(BOARDS)}") from None
