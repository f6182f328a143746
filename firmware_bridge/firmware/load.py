"""Put the firmware itself on a board: through a debug probe (pyOCD or OpenOCD) or any GDB
remote-protocol server (QEMU's gdbstub, a probe's gdbserver).

``load(target, probe="auto")`` picks pyOCD when its command is on PATH, else OpenOCD, and runs
the documented command line (``pyocd load --target PART ELF`` then ``pyocd reset``; ``openocd -f
interface/stlink.cfg -f target/stm32f4x.cfg -c "program ELF verify reset exit"``); neither has
been run against real hardware here. ``probe="gdb://HOST:PORT"`` speaks the GDB remote serial
protocol directly (``RspClient``): it writes every loadable ELF segment with ``M`` packets,
resets through ``qRcmd`` (``monitor system_reset``, QEMU's command) and detaches, which lets the
board run. The tests load the STM32F405 image into QEMU netduinoplus2 that way and see HELLO.
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BridgeError
from ..files import MODEL_FILE_MAX, read_limited
from .targets import get_target

PYOCD_PARTS = {"stm32f405": "stm32f405rgtx", "stm32f446-nucleo": "stm32f446retx"}
OPENOCD_CFG = {
    "stm32f405": ("interface/stlink.cfg", "target/stm32f4x.cfg"),
    "stm32f446-nucleo": ("board/st_nucleo_f4.cfg",),
}


class LoadError(BridgeError):
    """The firmware could not be loaded (no probe tool, the tool failed, the link broke)."""

    exit_code = 3


class LoadUsageError(LoadError):
    """No ELF, not an ELF, or no probe tool installed: the user's next step (exit code 2)."""

    exit_code = 2


@dataclass
class LoadReport:
    target: str
    probe: str
    elf: str
    segments: list[tuple[int, int]] = field(default_factory=list)  # (address, bytes)
    seconds: float = 0.0
    command: list[str] = field(default_factory=list)


def elf_segments(elf: Path) -> list[tuple[int, bytes]]:
    """(physical address, bytes) of every PT_LOAD segment with file contents (ELF32, LE)."""
    data = read_limited(elf, MODEL_FILE_MAX)
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise LoadUsageError(f"{elf}: not a 32-bit little-endian ELF file")
    (phoff,) = struct.unpack_from("<I", data, 28)
    phentsize, phnum = struct.unpack_from("<HH", data, 42)
    out = []
    for i in range(phnum):
        p_type, off, _vaddr, paddr, filesz = struct.unpack_from("<5I", data, phoff + i * phentsize)
        if p_type == 1 and filesz:
            out.append((paddr, data[off : off + filesz]))
    return out


class RspClient:
    """A minimal GDB remote serial protocol client: enough to write memory, run a monitor
    command and detach (packets ``$data#checksum``, acknowledged with ``+``)."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection((host, port), timeout=timeout)
                break
            except OSError as e:
                if time.monotonic() > deadline:
                    raise LoadError(f"no GDB server at {host}:{port}: {e}") from e
                time.sleep(0.1)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def _read(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise LoadError("the GDB server closed the connection")
        return chunk

    def packet(self, data: str) -> str:
        """Send one packet, return the reply: console output (``O...``) and the stop reply a
        server sends on its own when a client attaches to a running target are skipped."""
        body = data.encode()
        self.sock.sendall(b"$%s#%02x" % (body, sum(body) & 0xFF))
        while True:
            reply = self._next()
            if (reply.startswith("O") and reply != "OK") or reply[:1] in ("T", "S"):
                continue
            return reply

    def _next(self) -> str:
        while True:
            start = self.buf.find(b"$")
            end = self.buf.find(b"#", start) if start >= 0 else -1
            if start >= 0 and end >= 0 and len(self.buf) >= end + 3:
                reply = self.buf[start + 1 : end].decode(errors="replace")
                self.buf = self.buf[end + 3 :]
                self.sock.sendall(b"+")
                return reply
            self.buf += self._read()

    def write(self, addr: int, data: bytes, chunk: int = 1024) -> None:
        for off in range(0, len(data), chunk):
            part = data[off : off + chunk]
            r = self.packet(f"M{addr + off:x},{len(part):x}:{part.hex()}")
            if r != "OK":
                raise LoadError(f"GDB server refused the write at {addr + off:#x}: {r}")

    def read(self, addr: int, n: int) -> bytes:
        r = self.packet(f"m{addr:x},{n:x}")
        if r.startswith("E"):
            raise LoadError(f"GDB server refused the read at {addr:#x}: {r}")
        return bytes.fromhex(r)

    def monitor(self, command: str) -> str:
        return self.packet("qRcmd," + command.encode().hex())


def _load_gdb(url: str, segments: list[tuple[int, bytes]]) -> list[str]:
    host, _, port = url.removeprefix("gdb://").rpartition(":")
    rsp = RspClient(host or "127.0.0.1", int(port))
    try:
        rsp.packet("qSupported:multiprocess-")
        for addr, data in segments:
            rsp.write(addr, data)
            if rsp.read(addr, min(64, len(data))) != data[:64]:
                raise LoadError(f"read-back after writing {addr:#x} differs (flash not written?)")
        rsp.monitor("system_reset")
        rsp.packet("D")  # detach: the board runs from its reset vector
    finally:
        rsp.close()
    return [f"gdb remote protocol: M packets to {url}, monitor system_reset, detach"]


def probe_command(target: str, probe: str, image: Path, base: int | None = None) -> list[list[str]]:
    """The command lines a probe tool runs for ``target`` (documented, untested on hardware):
    an ELF, or with ``base`` a raw binary written from that address."""
    t = get_target(target)
    if probe == "pyocd":
        if t.name not in PYOCD_PARTS:
            raise LoadUsageError(f"no pyOCD part known for {t.name}")
        part = PYOCD_PARTS[t.name]
        at = [] if base is None else ["--base-address", f"{base:#x}"]
        return [
            ["pyocd", "load", "--target", part, *at, str(image)],
            ["pyocd", "reset", "--target", part],
        ]
    if probe == "openocd":
        if t.name not in OPENOCD_CFG:
            raise LoadUsageError(f"no OpenOCD configuration known for {t.name}")
        cfg = [a for c in OPENOCD_CFG[t.name] for a in ("-f", c)]
        addr = "" if base is None else f" {base:#x}"
        return [["openocd", *cfg, "-c", f"program {image}{addr} verify reset exit"]]
    raise LoadUsageError(f"unknown probe {probe!r}; use auto, pyocd, openocd or gdb://HOST:PORT")


def load(
    target: str,
    *,
    probe: str = "auto",
    elf: Path | None = None,
    raw: tuple[int, bytes] | None = None,
) -> LoadReport:
    """Write the built firmware of ``target`` (or ``raw`` = (address, bytes), e.g. a
    provisioning record) to a board and reset it."""
    from .build import elf_path

    t = get_target(target)
    if raw is not None:
        return _load_raw(t.name, probe, *raw)
    elf = Path(elf or elf_path(t.name))
    if not elf.exists():
        raise LoadUsageError(
            f"{elf} does not exist: run 'vp-edge firmware build --target {t.name}'"
        )
    segments = elf_segments(elf)
    rep = LoadReport(t.name, probe, str(elf), [(a, len(d)) for a, d in segments])
    t0 = time.monotonic()
    if probe.startswith("gdb://"):
        rep.command = _load_gdb(probe, segments)
    else:
        rep.probe = probe = _auto(probe)
        rep.command = _run(probe_command(t.name, probe, elf))
    rep.seconds = round(time.monotonic() - t0, 3)
    return rep


def _auto(probe: str) -> str:
    if probe != "auto":
        return probe
    found = next((p for p in ("pyocd", "openocd") if shutil.which(p)), "")
    if not found:
        raise LoadUsageError(
            "no probe tool found: install pyOCD (pip install pyocd) or "
            "OpenOCD (apt-get install openocd), or give --probe gdb://HOST:PORT"
        )
    return found


def _run(cmds: list[list[str]]) -> list[str]:
    for cmd in cmds:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise LoadError(f"{cmd[0]} failed ({r.returncode}): {(r.stdout + r.stderr)[-800:]}")
    return [" ".join(c) for c in cmds]


def _load_raw(target: str, probe: str, addr: int, data: bytes) -> LoadReport:
    """A raw image at ``addr`` (the probe tool erases the sectors it covers)."""
    import tempfile

    rep = LoadReport(target, probe, f"{len(data)} B image", [(addr, len(data))])
    t0 = time.monotonic()
    if probe.startswith("gdb://"):
        rep.command = _load_gdb(probe, [(addr, data)])
    else:
        rep.probe = probe = _auto(probe)
        with tempfile.TemporaryDirectory(prefix="vp-load-") as tmp:
            path = Path(tmp) / "image.bin"
            path.write_bytes(data)
            rep.command = _run(probe_command(target, probe, path, base=addr))
    rep.seconds = round(time.monotonic() - t0, 3)
    return rep
