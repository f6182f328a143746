"""Serial links through pyserial's ``serial_for_url``: ``serial:///dev/ttyUSB0?baud=N``,
``socket://``, ``rfc2217://``, ``loop://`` (pyserial's own URL handlers come free)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import SplitResult

from .base import Link, LinkError, LinkSpec

PYSERIAL_SCHEMES = ("socket", "rfc2217", "loop")


def parse(url: str, parts: SplitResult, opts: dict[str, str]) -> LinkSpec:
    scheme = parts.scheme
    unknown = set(opts) - {"baud"} if scheme == "serial" else set()
    if unknown:
        raise LinkError(f"link {url!r}: unknown option(s) {sorted(unknown)}; only ?baud=N")
    check_baud(url, opts)
    if scheme == "serial" and not parts.path:
        raise LinkError(f"link {url!r}: expected serial:///dev/ttyUSB0?baud=115200")
    return LinkSpec(url, scheme, parts.hostname or "", 0, parts.netloc + parts.path, opts)


def check_baud(url: str, opts: dict[str, str]) -> None:
    if "baud" in opts and not (opts["baud"].isdigit() and int(opts["baud"]) > 0):
        raise LinkError(f"link {url!r}: baud must be a positive integer, e.g. ?baud=115200")


def open(spec: LinkSpec, *, server: bool, pty_dir: Path | None, wait_s: float) -> Link:
    if spec.scheme == "serial":
        return SerialLink(spec, spec.path)
    raw = spec.url.split("?", 1)[0]
    extra = "&".join(f"{k}={v}" for k, v in spec.options.items() if k != "baud")
    return SerialLink(spec, raw + ("?" + extra if extra else ""))


class SerialLink(Link):
    """A pyserial port from ``serial.serial_for_url`` (any device path or pyserial URL)."""

    def __init__(self, spec: LinkSpec, target: str) -> None:
        super().__init__(spec.url)
        try:
            import serial
        except ImportError:
            raise LinkError(
                f"link {spec.url}: serial links need pyserial (pip install pyserial)"
            ) from None
        self.errors: tuple[type[BaseException], ...] = (OSError, serial.SerialException, TypeError)
        with contextlib.suppress(ImportError):
            import termios  # tcdrain on a pty whose other end died raises termios.error

            self.errors += (termios.error,)
        try:
            self.port = serial.serial_for_url(target, baudrate=spec.baud, timeout=0.05)
        except (serial.SerialException, ValueError, OSError) as e:
            raise LinkError(f"link {spec.url}: cannot open {target}: {e}") from None

    def send(self, data: bytes) -> None:
        try:
            self.port.write(data)
            self.bytes_sent += len(data)
        except self.errors as e:
            raise LinkError(f"link {self.url}: write failed: {e}") from None

    def recv(self, timeout: float) -> bytes:
        try:  # setting the timeout reconfigures the port: it fails too once the pty is gone
            self.port.timeout = max(timeout, 1e-3)
            data = self.port.read(max(1, self.port.in_waiting))
        except self.errors as e:
            raise LinkError(f"link {self.url}: read failed: {e}") from None
        self.bytes_received += len(data)
        return bytes(data)

    def close(self) -> None:
        with contextlib.suppress(*self.errors):
            self.port.close()
