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
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..protocol.crc import crc32c
from .build import BUILD_DIR, FW_DIR, ROOT, FirmwareError, build, missing_tools, size_report
from .targets import Target, get_target

__all__ = ["BUILD_DIR", "FW_DIR", "ROOT", "FirmwareError", "build", "missing_tools"]

_AN386 = get_target("mps2-an386")
assert _AN386.storage is not None  # the mps2 targets have a storage region
STORAGE_SIZE = _AN386.storage.size  # fw.h FW_STORAGE_SIZE (host and mps2 targets)
SECTOR = 4096
SLOT_SIZE = _AN386.slot_size
MAX_KEY = 64
QEMU_MACHINE = _AN386.qemu_machine


def storage_size(target: str = "host") -> int:
    """Bytes of the storage file a target's board uses (its flash region)."""
    t = get_target(target)
    assert t.storage is not None
    return t.storage.size


def provision_record(board_id: int, key: bytes | None, size: int = SECTOR) -> bytes:
    """The provisioning record (fw_store.c: "VPPV", id, key length, key, CRC-32C), padded with
    erased bytes to ``size``: what goes at the start of a board's storage."""
    key = key or b""
    if len(key) > MAX_KEY or not 0 <= board_id <= 0xFFFF:
        raise FirmwareError(f"key of {len(key)} bytes (max {MAX_KEY}) or board id {board_id}")
    rec = struct.pack("<4sHBx64s", b"VPPV", board_id, len(key), key.ljust(MAX_KEY, b"\0"))
    return (rec + struct.pack("<I", crc32c(rec))).ljust(size, b"\xff")


def provision(
    storage: str | os.PathLike[str],
    *,
    board_id: int = 1,
    key: bytes | None = None,
    target: str = "host",
) -> Path:
    """Create the flash file if needed and write the provisioning record (board id, key)."""
    size = storage_size(target)
    rec = provision_record(board_id, key, get_target(target).record)
    path = Path(storage)
    if not path.exists() or path.stat().st_size < size:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as fh:
            fh.write(b"\xff" * (size - fh.tell()))
    with open(path, "r+b") as fh:
        fh.write(rec)
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


def start_host(
    storage: str | os.PathLike[str],
    *,
    board_id: int = 1,
    key: bytes | None = None,
    elf: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 10.0,
    target: str = "host",
) -> FirmwareBoard:
    """Start a host-process firmware (``host`` or ``host-stm32f4``) on ``storage``; its pty path
    is ``.url``."""
    path = provision(storage, board_id=board_id, key=key, target=target)
    exe = elf or build(target)
    proc = subprocess.Popen(
        [str(exe), "--flash", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    url, lines = _wait_pty(proc, proc.stdout, r"^PTY (\S+)", timeout)
    return FirmwareBoard(target, url, path, proc, board_id, lines)


def _preload(t: Target, storage: Path) -> list[str]:
    """QEMU does not model the STM32F4 flash interface (its flash is a ROM): the storage file
    (host-stm32f4 layout) goes into the ROM at start, records and slots around the code."""
    assert t.storage and t.code
    data = storage.read_bytes()
    args = []
    for name, lo, hi in (
        ("records", 0, t.code.origin - t.storage.origin),
        ("slots", t.slots_off, t.storage.size),
    ):
        part = storage.with_name(f"{storage.name}.{name}")
        part.write_bytes(data[lo:hi])
        args += ["-device", f"loader,file={part},addr={t.storage.origin + lo:#x}"]
    return args


def qemu_command(
    elf: Path, storage: Path, icount: bool = True, target: str = "mps2-an386"
) -> list[str]:
    """The QEMU command line: the target's UART on a pty, its storage behind it."""
    t = get_target(target)
    if not t.qemu_machine:
        raise FirmwareError(f"target {t.name} has no QEMU machine")
    cmd = [
        "qemu-system-arm",
        "-M",
        t.qemu_machine,
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        "pty",
        "-kernel",
        str(elf),
    ]
    if t.qemu_flash_controller:  # mps2: storage written through to the file by semihosting
        cmd += ["-semihosting-config", f"enable=on,target=native,arg=vpfw,arg={storage}"]
    else:
        cmd += _preload(t, storage)
    return cmd + (["-icount", "shift=0"] if icount else [])


def start_qemu(
    storage: str | os.PathLike[str],
    *,
    board_id: int = 1,
    key: bytes | None = None,
    elf: Path | None = None,
    icount: bool = True,
    timeout: float = 30.0,
    target: str = "mps2-an386",
    extra: tuple[str, ...] = (),
) -> FirmwareBoard:
    """Start the firmware of ``target`` in QEMU on ``storage``; its UART's pty path is ``.url``.

    With ``icount`` (default) one instruction is 1 ns of virtual time, so RESULT.compute_us
    x 1000 is the instruction count of an inference. For ``stm32f405`` (netduinoplus2) the
    storage is read-only in QEMU: flash it first on a ``host-stm32f4`` board (same layout).
    ``extra`` goes to the end of QEMU's command line (``-d``/``-D`` logging for a trace).
    """
    t = get_target(target)
    path = provision(
        storage,
        board_id=board_id,
        key=key,
        target="host-stm32f4" if t.kind == "stm32f4" else "host",
    ).resolve()
    if " " in str(path) or "," in str(path):
        raise FirmwareError(f"the QEMU storage path must not contain spaces or commas: {path}")
    exe = elf or build(t.name)
    proc = subprocess.Popen(
        [*qemu_command(exe, path, icount, t.name), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url, lines = _wait_pty(proc, proc.stdout, r"redirected to (\S+)", timeout)
    return FirmwareBoard(t.name, url, path, proc, board_id, lines)


def elf_size(elf: Path, target: str = "mps2-an386") -> dict[str, int]:
    """Flash and static RAM of a Cortex-M image against its target (``size_report`` in short)."""
    rep = size_report(target, elf)
    sec = rep["sections"]
    text = sum(sec.get(s, 0) for s in (".vectors", ".text", ".ARM.exidx"))
    return {
        "text": text,
        "data": sec.get(".data", 0),
        "bss": sec.get(".bss", 0),
        "flash": rep["flash"]["used"],
        "ram": rep["ram"]["static"],
        "flash_budget": rep["flash"]["firmware_region"],
        "ram_budget": rep["ram"]["part"],
        "model_slot": rep["flash"]["model_slot"],
    }
