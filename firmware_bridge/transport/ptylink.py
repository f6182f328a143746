"""``pty://NAME``: an emulated board's serial line. The board end is a pty master whose slave
path is published in ``PTY_DIR/NAME.pty``; the gateway end opens that path as a serial port."""

from __future__ import annotations

import os
import select
import time
import tty
from pathlib import Path
from urllib.parse import SplitResult

from .base import Link, LinkError, LinkSpec
from .serialport import SerialLink, check_baud


def parse(url: str, parts: SplitResult, opts: dict[str, str]) -> LinkSpec:
    unknown = set(opts) - {"baud"}
    if unknown:
        raise LinkError(f"link {url!r}: unknown option(s) {sorted(unknown)}; only ?baud=N")
    check_baud(url, opts)
    if not (parts.netloc and parts.path in ("", "/")):
        raise LinkError(f"link {url!r}: expected pty://NAME (letters, digits, - and _)")
    return LinkSpec(url, "pty", parts.hostname or "", 0, parts.netloc + parts.path, opts)


def open(spec: LinkSpec, *, server: bool, pty_dir: Path | None, wait_s: float) -> Link:
    if server:
        return PtyLink(spec, pty_dir)
    return SerialLink(spec, resolve_pty(spec, pty_dir, wait_s))


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
