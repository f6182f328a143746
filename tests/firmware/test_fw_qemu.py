"""Cortex-M4 firmware in QEMU (mps2-an386): flashed with `vp-edge flash`, RESULTs bit-identical
to the host C engine, a power cut (QEMU killed) mid-transfer keeps the old model, and the
measurements: ELF flash/RAM against the board profile, instructions per inference."""

from __future__ import annotations

import hashlib
import json

import pytest
from fw_helpers import BOARD_ID, KEY, MASTER, assert_serves, cached_tflite, cli_flash, to_vpw
from key_attack import assert_refused, load_attack

from firmware_bridge.errors import BridgeError
from firmware_bridge.firmware import qemu
from firmware_bridge.flash import flash
from firmware_bridge.protocol.keys import BoardKeys, derive_board_key
from firmware_bridge.protocol.session import BoardSession

# QEMU's pty backend notices a newly opened client only on its ~1 s poll: allow for it.
SLOW = ("--timeout", "1.0", "--retries", "5")


@pytest.fixture
def qboard(qemu_elf, tmp_path):
    boards: list[qemu.FirmwareBoard] = []

    def start() -> qemu.FirmwareBoard:
        b = qemu.start_qemu(tmp_path / "qflash.bin", board_id=BOARD_ID, key=KEY, elf=qemu_elf)
        boards.append(b)
        return b

    yield start
    for b in boards:
        b.stop()


def test_qemu_flash_infer_bit_identical_and_power_cut(qboard, models, epoch_file, tmp_path):
    b = qboard()
    rc, rep = cli_flash(tmp_path, b.url, models["old"], epoch_file, *SLOW)
    assert rc == 0 and rep["verified"]
    assert_serves(b.url, models["old"], epoch_file, n=4)
    sent: list[int] = []

    def progress(n: int) -> None:  # power cut: QEMU killed half-way through the new model
        sent.append(n)
        if sum(sent) > len(models["new"]) // 2 and b.alive():
            b.kill()

    with pytest.raises(BridgeError):
        flash(
            b.url,
            models["new"],
            board_id=BOARD_ID,
            key=KEY,
            epoch_file=epoch_file,
            timeout=0.5,
            tries=2,
            progress=progress,
        )
    b = qboard()
    assert_serves(b.url, models["old"], epoch_file, n=2, seed=1)
    rc, rep2 = cli_flash(tmp_path, b.url, models["new"], epoch_file, *SLOW)
    assert rc == 0 and rep2["slot"] == 1 - rep["slot"]
    assert_serves(b.url, models["new"], epoch_file, n=4)


def test_qemu_tampered_artifact_keeps_old(qboard, models, epoch_file, tmp_path) -> None:
    b = qboard()
    assert cli_flash(tmp_path, b.url, models["old"], epoch_file, *SLOW)[0] == 0
    bad = bytearray(models["new"])
    bad[-1] ^= 1  # golden output no longer matches: the board's self-test refuses it
    assert cli_flash(tmp_path, b.url, bytes(bad), epoch_file, *SLOW, "--force")[0] == 4
    assert_serves(b.url, models["old"], epoch_file, n=2)


def test_qemu_measurements(qboard, qemu_elf, epoch_file, pytestconfig, tmp_path) -> None:
    """ELF sizes against the Cortex-M4 profile; instructions per inference of the smallest
    family variant (icount shift=0: compute_us x 1000 = instructions, +-1000)."""
    sizes = qemu.elf_size(qemu_elf)
    assert sizes["flash"] <= sizes["flash_budget"] and sizes["ram"] + 8192 <= sizes["ram_budget"]
    vpw = to_vpw(cached_tflite(pytestconfig, "tiny:0")["tiny:0"])
    assert len(vpw) <= qemu.SLOT_SIZE
    b = qboard()
    rep = flash(b.url, vpw, board_id=BOARD_ID, key=KEY, epoch_file=epoch_file, timeout=1.0)
    assert rep.verified
    from firmware_bridge.engine import Engine

    eng = Engine(vpw)
    x = bytes(eng.info["input_size"])
    with BoardSession(b.url, board_id=BOARD_ID, key=KEY, epoch_file=epoch_file) as s:
        runs = [s.infer(x).compute_us for _ in range(3)]
    # deterministic under icount up to the 1 us (1000-instruction) tick the timer reads
    assert max(runs) - min(runs) <= 1 and runs[0] > 0
    out = qemu.BUILD_DIR / "measurements.json"
    record = {
        "elf": sizes,
        "model": "tiny:0",
        "vpw_bytes": len(vpw),
        "arena": eng.info["arena_size"],
        "sha256": hashlib.sha256(vpw).hexdigest(),
        "compute_us": runs[0],
        "instructions_per_inference": runs[0] * 1000,
        "flash_seconds": rep.seconds,
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record))


def test_qemu_board1_key_cannot_load_board2(qemu_elf, models, epoch_file, tmp_path, capsys) -> None:
    """Per-board keys on the Cortex-M4: board 1's key gets no LOAD session into board 2."""
    k1, k2 = derive_board_key(MASTER, 1), derive_board_key(MASTER, 2)
    with qemu.start_qemu(tmp_path / "b2.bin", board_id=2, key=k2, elf=qemu_elf) as b:
        flash(
            b.url,
            models["old"],
            board_id=2,
            key=BoardKeys(MASTER),
            epoch_file=epoch_file,
            timeout=1.0,
        )
        counts = load_attack(
            b.url,
            victim_id=2,
            victim_key=k2,
            attacker_id=1,
            attacker_key=k1,
            artifact=models["new"],
            epoch_file=epoch_file,
            gap_s=0.05,
            settle_s=1.5,
        )
    with capsys.disabled():
        print(f"\n[per-board keys, QEMU firmware] board 1's key against board 2: {counts}")
    assert_refused(counts)
