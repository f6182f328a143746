"""STM32F4 flash driver against the reference manual's procedures (RM0090 / RM0390 section 3),
on a simulated flash interface that records every register access (a fake register file).

QEMU 7.2 does not model the STM32F4 flash interface (``info mtree`` on netduinoplus2 shows
"Flash Int" at 0x40023c00 as an unimplemented device and the flash as a ROM), so this harness is
where the erase/program sequence is checked; the fault tests run the same driver through the
``host-stm32f4`` target (tests/firmware/test_fw_host.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from firmware_bridge.firmware.build import FW_DIR

HERE = Path(__file__).resolve().parent
KEY1, KEY2 = 0x45670123, 0xCDEF89AB
PG, SER, STRT, LOCK, BSY = 1, 2, 1 << 16, 1 << 31, 1 << 16
X8, X32 = 0 << 8, 2 << 8


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("the flash harness needs a C compiler (cc)")
    exe = tmp_path_factory.mktemp("f4") / "f4_flash_harness"
    t = FW_DIR / "target"
    subprocess.run(
        [
            cc,
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-Wno-unused-parameter",
            "-DFW_HOST_F4",
            f"-I{t / 'stm32f4'}",
            "-o",
            str(exe),
            str(HERE / "f4_flash_harness.c"),
            str(t / "stm32f4" / "flash_f4.c"),
            str(t / "host" / "f4_flash_sim.c"),
        ],
        check=True,
    )
    return exe


def run(exe: Path, *ops: str) -> tuple[list[str], list[tuple]]:
    """(stdout lines, trace): trace items ("R"|"W", reg, value) or ("S", bits, addr, value)."""
    r = subprocess.run([str(exe), *ops], capture_output=True, text=True, check=True)
    trace: list[tuple] = []
    for line in r.stderr.splitlines():
        f = line.split()
        if f[0] in ("R", "W"):
            trace.append((f[0], f[1], int(f[2], 16)))
        elif f[0].startswith("S"):
            trace.append(("S", int(f[0][1:]), int(f[1], 16), int(f[2], 16)))
        elif f[0] == "VIOLATION":
            trace.append(("VIOLATION", line))
    return r.stdout.splitlines(), trace


def writes(trace: list[tuple], reg: str) -> list[int]:
    return [t[2] for t in trace if t[0] == "W" and t[1] == reg]


def check_common(trace: list[tuple]) -> None:
    """Unlock with KEY1 then KEY2 first, errors cleared before any operation, CR relocked at
    the end, nothing the manual forbids (the simulator counts it)."""
    assert not [t for t in trace if t[0] == "VIOLATION"], trace
    w = [t for t in trace if t[0] == "W"]
    assert w[0][1:] == ("KEYR", KEY1) and w[1][1:] == ("KEYR", KEY2)
    assert w[2][1] == "SR" and w[2][2] & 0xF3 == 0xF3  # EOP + OPERR/WRPERR/PGAERR/PGPERR/PGSERR
    assert writes(trace, "CR")[-1] == LOCK


def check_waits(trace: list[tuple]) -> None:
    """After every store and every STRT, SR is read until BSY is clear before CR or flash is
    touched again (RM0090 3.5.3 step 4, 3.5.4 step 4)."""
    pending = False
    for t in trace:
        if t[0] == "S" or (t[0] == "W" and t[1] == "CR" and t[2] & STRT):
            assert not pending, "operation started while the previous one was busy"
            pending = True
        elif t[0] == "R" and t[1] == "SR" and not t[2] & BSY:
            pending = False
        elif t[0] == "W" and t[1] == "CR":
            assert not pending, f"CR written while BSY: {t}"
    assert not pending


def test_program_words_and_bytes_with_the_right_psize(harness: Path) -> None:
    out, trace = run(harness, "program", "0x08020001", "0102030405060708090a0b0c")
    assert out[0] == "rc=0 violations=0"
    assert out[1] == "bytes 01 02 03 04 05 06 07 08 09 0a 0b 0c"
    check_common(trace)
    check_waits(trace)
    stores = [t for t in trace if t[0] == "S"]
    # 3 leading bytes (x8), two aligned words (x32), 1 trailing byte (x8)
    assert [(s[1], s[2]) for s in stores] == [
        (8, 0x08020001),
        (8, 0x08020002),
        (8, 0x08020003),
        (32, 0x08020004),
        (32, 0x08020008),
        (8, 0x0802000C),
    ]
    assert stores[3][3] == 0x07060504  # little-endian word
    for i, t in enumerate(trace):  # every store right after CR = PG | the store's PSIZE
        if t[0] == "S":
            prev = next(x for x in reversed(trace[:i]) if x[0] == "W" and x[1] == "CR")
            assert prev[2] == PG | (X32 if t[1] == 32 else X8)


def test_sector_erase_sequence_and_sector_numbers(harness: Path) -> None:
    # slot 0 of the STM32F405 layout: 384 KB from 0x08020000 = sectors 5, 6, 7
    out, trace = run(harness, "erase", "0x08020000", str(384 * 1024))
    assert out[0] == "rc=0 violations=0"
    check_common(trace)
    check_waits(trace)
    cr = writes(trace, "CR")
    starts = [v for v in cr if v & STRT]
    assert [(v >> 3) & 15 for v in starts] == [5, 6, 7]
    for v in starts:  # SER and SNB (and PSIZE) set in a write of their own, then STRT added
        assert v & SER and not v & PG and v & (3 << 8) == X32
        assert cr[cr.index(v) - 1] == v & ~STRT
    # the 16 KB records: metadata copy B is sector 3, nothing else
    out, trace = run(harness, "erase", "0x0800C000", str(16 * 1024))
    assert [(v >> 3) & 15 for v in writes(trace, "CR") if v & STRT] == [3]


def test_waits_for_an_operation_under_way_before_starting(harness: Path) -> None:
    out, trace = run(harness, "busy", "5", "erase", "0x08008000", "16")
    assert out[0] == "rc=0 violations=0"
    check_waits(trace)
    first = next(i for i, t in enumerate(trace) if t[0] == "W" and t[1] == "CR")
    assert [t for t in trace[:first] if t[:2] == ("R", "SR")][-1][2] & BSY == 0


def test_data_cache_reset_after_an_operation(harness: Path) -> None:
    """ACR.DCRST only with DCEN off (RM0090 3.4.2), then the cache back on."""
    out, trace = run(harness, "dcache", "program", "0x08004000", "a5a5a5a5")
    assert out[0] == "rc=0 violations=0"
    acr = writes(trace, "ACR")
    assert len(acr) == 3 and not acr[0] & (1 << 10) and acr[1] & (1 << 12)
    assert not acr[1] & (1 << 10) and acr[2] & (1 << 10) and not acr[2] & (1 << 12)


def test_write_protected_sector_reports_an_error_and_relocks(harness: Path) -> None:
    """Sector 4 holds the firmware (write-protected on the simulated part): WRPERR -> -1."""
    out, trace = run(harness, "program", "0x08010000", "00000000")
    assert out[0].startswith("rc=-1")
    assert writes(trace, "CR")[-1] == LOCK
    out, trace = run(harness, "erase", "0x08010000", "4")
    assert out[0].startswith("rc=-1")


def test_bits_only_clear_so_read_back_catches_an_unerased_target(harness: Path) -> None:
    out, _ = run(harness, "program", "0x08004000", "00ff", "program", "0x08004000", "ff00")
    assert out[2] == "rc=-1 violations=0"  # 0x00 cannot become 0xff without an erase
    assert out[3] == "bytes 00 00"
