"""Build and start the board firmware: as a host process or as a Cortex-M4 in QEMU (mps2-an386).

Both give a serial URL (a pty path) that ``flash``, ``BoardSession`` or a gateway opens::

    board = start_qemu("runs/mcu0.flash", board_id=3, key=KEY)   # builds the ELF if needed
    flash(board.url, vpw_bytes, board_id=3, key=KEY)
    ...
    board.stop()

The storage file is the board's flash (fw.h layout): created erased (0xFF) if missing, with the
provisioning record (board id, deployment key) written at offset 0 before the board starts.
Killing the process (``board.kill()``) is a power cut. Build outputs go under ``build/firmware``.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .crc import crc32c
from .errors import BridgeError

ROOT = Path(__file__).resolve().parent.parent
FW_DIR = Path(__file__).resolve().parent / "firmware"
BUILD_DIR = ROOT / "build" / "firmware"
STORAGE_SIZE = 0xD0000  # fw.h FW_STORAGE_SIZE
SECTOR = 4096
SLOT_SIZE = ((STORAGE_SIZE - 4 * SECTOR) // 2) & ~(SECTOR - 1)
MAX_KEY = 64
ELF = {"host": ("host", "vp_fw_host"), "qemu": ("qemu", "vp_fw_qemu.elf")}
TOOLS = {"host": ("cc",), "qemu": ("arm-none-eabi-gcc", "qemu-system-arm")}
QEMU_MACHINE = "mps2-an386"
FLASH_BYTES, SRAM_BYTES = 1024 * 1024, 256 * 1024  # the Cortex-M4 board profile


class FirmwareError(BridgeError):
    """The firmware could not be built or started (a tool is missing, a build failed)."""


def missing_tools(target: str) -> list[str]:
    """Executables ``target`` needs that are not on PATH (``make`` included)."""
    return [t for t in ("make", *TOOLS[target]) if shutil.which(t) is None]


def build(target: str = "host", *, build_dir: Path | None = None, defs: str = "") -> Path:
    """``make -C firmware_bridge/firmware TARGET``; returns the executable or ELF path."""
    if target not in ELF:
        raise FirmwareError(f"unknown firmware target {target!r}; known: {', '.join(ELF)}")
    if missing := missing_tools(target):
        raise FirmwareError(f"building the {target} firmware needs {', '.join(missing)} "
                            "(run 'make setup' or scripts/setup.d/20-toolchains.sh)")
    out = Path(build_dir or BUILD_DIR)
    cmd = ["make", "-s", "-C", str(FW_DIR), target, f"BUILD={out}", f"FW_DEFS={defs}"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise FirmwareError(f"firmware build failed:\n{(r.stdout + r.stderr)[-3000:]}")
    sub, name = ELF[target]
    return out / sub / name


def provision(storage: str | os.PathLike[str], *, board_id: int = 1,
              key: bytes | None = None) -> Path:
    """Create the flash file if needed and write the provisioning record (board id, key)."""
    key = key or b""
    if len(key) > MAX_KEY or not 0 <= board_id <= 0xFFFF:
        raise FirmwareError(f"key of {len(key)} bytes (max {MAX_KEY}) or board id {board_id}")
    path = Path(storage)
    if not path.exists() or path.stat().st_size < STORAGE_SIZE:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as fh:
            fh.write(b"\xff" * (STORAGE_SIZE - fh.tell()))
    rec = struct.pack("<4sHBx64s", b"VPPV", board_id, len(key), key.ljust(MAX_KEY, b"\0"))
    rec += struct.pack("<I", crc32c(rec))
    with open(path, "r+b") as fh:
        fh.write(rec.ljust(SECTOR, b"\xff"))
    return path


@dataclass
class FirmwareBoard:
    """A running firmware: ``url`` is its serial port, ``proc`` its process."""

    target: str
    url: str
    storage: Path
    proc: subprocess.Popen
    board_id: int
    log: list[str] = field(default_factory=list)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> int:
        """SIGKILL: a power cut. Returns the exit status."""
        if self.alive():
            self.proc.kill()
        return self.proc.wait(10)

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for s in (self.proc.stdout, self.proc.stderr):
            if s:
                s.close()

    def __enter__(self) -> FirmwareBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_pty(proc: subprocess.Popen, stream, pattern: str, timeout: float) -> tuple[str, list]:
    """Read lines of ``stream`` until ``pattern`` (group 1 = the pty path) or the deadline."""
    fd = stream.fileno()
    os.set_blocking(fd, False)
    deadline, buf, lines = time.monotonic() + timeout, "", []
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096).decode(errors="replace")
        except BlockingIOError:
            chunk = ""
        if chunk:
            buf += chunk
            *done, buf = buf.split("\n")
            lines += done
            for line in done:
                if m := re.search(pattern, line):
                    return m.group(1), lines
        elif proc.poll() is not None:
            break
        else:
            time.sleep(0.01)
    proc.kill()
    raise FirmwareError(f"firmware did not open its serial port: {' | '.join(lines + [buf])}")


def start_host(storage: str | os.PathLike[str], *, board_id: int = 1, key: bytes | None = None,
               elf: Path | None = None, env: dict[str, str] | None = None,
               timeout: float = 10.0) -> FirmwareBoard:
    """Start the host-target firmware on ``storage``; its pty path is ``.url``."""
    path = provision(storage, board_id=board_id, key=key)
    exe = elf or build("host")
    proc = subprocess.Popen([str(exe), "--flash", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    url, lines = _wait_pty(proc, proc.stdout, r"^PTY (\S+)", timeout)
    return FirmwareBoard("host", url, path, proc, board_id, lines)


def qemu_command(elf: Path, storage: Path, icount: bool = True) -> list[str]:
    """The QEMU command line: UART0 on a pty, semihosting for the flash file."""
    cmd = ["qemu-system-arm", "-M", QEMU_MACHINE, "-display", "none", "-monitor", "none",
           "-serial", "pty", "-semihosting-config",
           f"enable=on,target=native,arg=vpfw,arg={storage}", "-kernel", str(elf)]
    return cmd + (["-icount", "shift=0"] if icount else [])


def start_qemu(storage: str | os.PathLike[str], *, board_id: int = 1, key: bytes | None = None,
               elf: Path | None = None, icount: bool = True,
               timeout: float = 30.0) -> FirmwareBoard:
    """Start the Cortex-M4 firmware in QEMU on ``storage``; its UART0 pty path is ``.url``.

    With ``icount`` (default) one instruction is 1 ns of virtual time, so RESULT.compute_us
    x 1000 is the instruction count of an inference.
    """
    path = provision(storage, board_id=board_id, key=key).resolve()
    if " " in str(path):
        raise FirmwareError(f"the QEMU storage path must not contain spaces: {path}")
    exe = elf or build("qemu")
    proc = subprocess.Popen(qemu_command(exe, path, icount), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    url, lines = _wait_pty(proc, proc.stdout, r"redirected to (\S+)", timeout)
    return FirmwareBoard("qemu", url, path, proc, board_id, lines)


def elf_size(elf: Path) -> dict[str, int]:
    """Flash (text + data) and static RAM (data + bss) from ``arm-none-eabi-size``."""
    out = subprocess.run(["arm-none-eabi-size", str(elf)], capture_output=True, text=True,
                         check=True).stdout.splitlines()[1].split()
    text, data, bss = (int(v) for v in out[:3])
    return {"text": text, "data": data, "bss": bss, "flash": text + data, "ram": data + bss,
            "flash_budget": FLASH_BYTES - STORAGE_SIZE, "ram_budget": SRAM_BYTES,
            "model_slot": SLOT_SIZE}
