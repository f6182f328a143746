"""Host-target firmware: flashing with `vp-edge flash`, bit-exact RESULTs, and every flashing
fault leaving the old model serving (each fault its own test)."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pytest
from fw_helpers import (
    BOARD_ID,
    KEY,
    MASTER,
    assert_serves,
    cached_tflite,
    cli_flash,
    expected_pairs,
    manual_load,
)
from key_attack import assert_refused, load_attack

from firmware_bridge.errors import BridgeError
from firmware_bridge.firmware import qemu
from firmware_bridge.firmware.targets import get_target
from firmware_bridge.flash import chunk_size, flash
from firmware_bridge.protocol import Error, Heartbeat, InferStage, MsgType, Probe, Status
from firmware_bridge.protocol.counter import Counter
from firmware_bridge.protocol.keys import BoardKeys, derive_board_key
from firmware_bridge.protocol.session import BoardSession

SHA = hashlib.sha256


def test_flash_then_infer_bit_identical(start_host, models, epoch_file, tmp_path) -> None:
    b = start_host()
    rc, rep = cli_flash(tmp_path, b.url, models["old"], epoch_file)
    assert rc == 0 and rep["verified"] and rep["sha256"] == SHA(models["old"]).hexdigest()
    assert_serves(b.url, models["old"], epoch_file, n=8)
    rc, rep2 = cli_flash(tmp_path, b.url, models["new"], epoch_file)
    assert rc == 0 and rep2["slot"] == 1 - rep["slot"]
    assert rep2["previous_sha256"] == rep["sha256"]
    assert_serves(b.url, models["new"], epoch_file, n=8)


def test_golden_input_and_compute_time(old_board, models, epoch_file) -> None:
    b = old_board()
    from firmware_bridge.engine import Engine

    n = Engine(models["old"]).info["input_size"]
    x = np.frombuffer(models["old"], np.int8, n, len(models["old"]) - n - 10)  # golden input
    with BoardSession(b.url, board_id=BOARD_ID, key=KEY, epoch_file=epoch_file) as s:
        r = s.infer(x.tobytes())
    assert r.pairs == expected_pairs(models["old"], x) and r.compute_us >= 0


def test_probe_heartbeat_and_errors(start_host, old_board, epoch_file, tmp_path) -> None:
    blank = start_host(tmp_path / "blank.bin")
    with BoardSession(blank.url, board_id=BOARD_ID, key=KEY, epoch_file=epoch_file) as s:
        assert s.hello().input_bytes == 0 and s.readback().status == Status.NO_MODEL
        r = s.infer(b"\x01" * 10)
        assert isinstance(r, Error) and r.status == Status.NO_MODEL
    b = old_board()
    with BoardSession(b.url, board_id=BOARD_ID, key=KEY, epoch_file=epoch_file) as s:
        hb = s.request(Probe(MsgType.HEARTBEAT), (Heartbeat,)).msg
        assert isinstance(hb, Heartbeat) and hb.rx_ok >= 1
        r = s.infer(b"\x01" * 10)
        assert isinstance(r, Error) and r.status == Status.BAD_INPUT_SIZE
        stage = InferStage(1, 0, 1, 0, 3, b"\x01\x02\x03")  # the firmware has no stages
        r = s.request(stage, (Error,)).msg
        assert (r.status, r.detail) == (Status.UNSUPPORTED, MsgType.INFER_STAGE)


def _new(models) -> tuple[bytes, bytes, bytes]:
    data = models["new"]
    return data, SHA(data).digest(), hmac.new(KEY, data, hashlib.sha256).digest()


def test_one_bit_tamper_keeps_old(old_board, models, epoch_file) -> None:
    b = old_board()
    data, sha, tag = _new(models)
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0x10
    acks = manual_load(b.url, epoch_file, size=len(data), sha=sha, tag=tag, data=bytes(bad))
    assert acks[-1].status == Status.LOAD_BAD_HASH
    assert_serves(b.url, models["old"], epoch_file)


def test_tamper_with_recomputed_hash_fails_tag(old_board, models, epoch_file) -> None:
    b = old_board()
    data, _, tag = _new(models)
    bad = bytearray(data)
    bad[200] ^= 1
    acks = manual_load(
        b.url, epoch_file, size=len(bad), sha=SHA(bad).digest(), tag=tag, data=bytes(bad)
    )
    assert acks[-1].status == Status.LOAD_BAD_TAG
    assert_serves(b.url, models["old"], epoch_file)


def test_wrong_tag_exit_4(old_board, models, epoch_file, tmp_path, monkeypatch) -> None:
    b = old_board()
    import firmware_bridge.flash as fl

    monkeypatch.setattr(fl, "artifact_tag", lambda key, a: hmac.new(b"other", a, "sha256").digest())
    rc, _ = cli_flash(tmp_path, b.url, models["new"], epoch_file)
    assert rc == 4
    assert_serves(b.url, models["old"], epoch_file)


def test_bad_chunk_crc_then_commit_is_incomplete(old_board, models, epoch_file) -> None:
    b = old_board()
    data, sha, tag = _new(models)
    acks = manual_load(
        b.url, epoch_file, size=len(data), sha=sha, tag=tag, data=data, chunks=3, bad_crc_at=1
    )
    assert acks[2].status == Status.LOAD_BAD_CRC and acks[3].status == Status.LOAD_BAD_OFFSET
    assert acks[-1].status == Status.LOAD_INCOMPLETE
    assert_serves(b.url, models["old"], epoch_file)


def test_wrong_board_id_exit_5(old_board, models, epoch_file, tmp_path) -> None:
    b = old_board()
    rc, _ = cli_flash(tmp_path, b.url, models["new"], epoch_file, "--board-id", "9")
    assert rc == 5
    assert_serves(b.url, models["old"], epoch_file)


def test_wrong_key_exit_5(old_board, models, epoch_file, tmp_path) -> None:
    b = old_board()
    rc, _ = cli_flash(tmp_path, b.url, models["new"], epoch_file, key=b"not the deployment key")
    assert rc == 5
    assert_serves(b.url, models["old"], epoch_file)


def test_truncated_transfer_keeps_old(old_board, models, epoch_file) -> None:
    b = old_board()
    data, sha, tag = _new(models)
    acks = manual_load(b.url, epoch_file, size=len(data), sha=sha, tag=tag, data=data, chunks=4)
    assert acks[-1].status == Status.LOAD_INCOMPLETE
    assert_serves(b.url, models["old"], epoch_file)


def test_truncated_artifact_fails_engine_check(old_board, models, epoch_file, tmp_path) -> None:
    b = old_board()
    half = models["new"][: len(models["new"]) // 2]
    assert cli_flash(tmp_path, b.url, half, epoch_file)[0] == 2  # refused here, nothing sent
    rc, _ = cli_flash(tmp_path, b.url, half, epoch_file, "--force")  # the board's own check
    assert rc == 4
    assert_serves(b.url, models["old"], epoch_file)


def test_failed_self_test_keeps_old(old_board, models, epoch_file, tmp_path) -> None:
    b = old_board()
    bad = bytearray(models["new"])
    bad[-1] ^= 0x01  # the golden section's last expected output value
    assert cli_flash(tmp_path, b.url, bytes(bad), epoch_file)[0] == 2  # refused here
    rc, _ = cli_flash(tmp_path, b.url, bytes(bad), epoch_file, "--force")
    assert rc == 4
    assert_serves(b.url, models["old"], epoch_file)


def test_model_without_golden_refused(old_board, models, epoch_file, tmp_path, pytestconfig):
    from converters.vpw import tflite_to_vpw

    b = old_board()
    plain = tflite_to_vpw(cached_tflite(pytestconfig, "convs:1")["convs:1"], target="cortex-m4")
    assert cli_flash(tmp_path, b.url, plain, epoch_file)[0] == 2  # refused before the transfer
    rc, _ = cli_flash(tmp_path, b.url, plain, epoch_file, "--force")
    assert rc == 4
    assert_serves(b.url, models["old"], epoch_file)


def test_interrupted_transfer_then_clean_retry(old_board, models, epoch_file, tmp_path) -> None:
    b = old_board()
    data, sha, tag = _new(models)
    manual_load(
        b.url, epoch_file, size=len(data), sha=sha, tag=tag, data=data, chunks=4, commit=False
    )
    assert_serves(b.url, models["old"], epoch_file)
    rc, _ = cli_flash(tmp_path, b.url, models["new"], epoch_file)
    assert rc == 0
    assert_serves(b.url, models["new"], epoch_file)


def test_rollback_with_old_counter_refused_after_reboot(old_board, models, epoch_file) -> None:
    b = old_board()
    b.stop()
    b = old_board()  # rebooted: it forgot the gateway's counter, not the last LOAD_BEGIN's
    with BoardSession(b.url, board_id=BOARD_ID, key=KEY, counter=Counter(1)) as s:
        with pytest.raises(BridgeError, match="LOAD_NO_SESSION") as e:
            flash(b.url, models["new"], board_id=BOARD_ID, key=KEY, session=s)
    assert e.value.exit_code == 3
    assert_serves(b.url, models["old"], epoch_file)


def test_kill9_mid_transfer_keeps_old(old_board, models, epoch_file) -> None:
    b = old_board()
    sent = []

    def progress(n: int) -> None:
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
            timeout=0.2,
            tries=2,
            progress=progress,
        )
    assert b.proc.returncode == -9
    assert_serves(old_board().url, models["old"], epoch_file)


def _cut_points(size: int) -> dict[str, int]:
    """Storage operations of one session, counted from 1: LOAD_BEGIN erases and writes the
    metadata record and erases the slot; a write per chunk; LOAD_COMMIT erases and writes the
    record that switches slots."""
    n = -(-size // chunk_size(1200, True))
    total = 3 + n + 2
    return {
        "begin-meta-erase": 1,
        "begin-meta-write": 2,
        "slot-erase": 3,
        "first-chunk": 4,
        "mid-chunk": 3 + (n + 1) // 2,
        "last-chunk": 3 + n,
        "commit-meta-erase": total - 1,
        "commit-meta-write": total,
    }


@pytest.mark.parametrize("point", list(_cut_points(10_000)))
def test_power_cut_during_flash_keeps_old(point, old_board, models, epoch_file) -> None:
    at = _cut_points(len(models["new"]))[point]
    b = old_board(env={"VP_FW_POWER_CUT": str(at)})
    with pytest.raises(BridgeError):
        flash(
            b.url,
            models["new"],
            board_id=BOARD_ID,
            key=KEY,
            epoch_file=epoch_file,
            timeout=0.2,
            tries=2,
        )
    assert b.proc.wait(5) == 86  # the injected power cut, half-way through operation `at`
    b2 = old_board()
    assert_serves(b2.url, models["old"], epoch_file)
    with BoardSession(b2.url, board_id=BOARD_ID, key=KEY, epoch_file=epoch_file) as s:
        assert s.readback().sha256 == SHA(models["old"]).digest()


def test_power_cut_after_commit_serves_new(old_board, models, epoch_file) -> None:
    total = _cut_points(len(models["new"]))["commit-meta-write"]
    b = old_board(env={"VP_FW_POWER_CUT": str(total + 1)})  # the cut never comes in the session
    flash(b.url, models["new"], board_id=BOARD_ID, key=KEY, epoch_file=epoch_file)
    b.kill()
    assert_serves(old_board().url, models["new"], epoch_file)


def test_corrupted_active_slot_falls_back(old_board, models, epoch_file, tmp_path) -> None:
    b = old_board()
    rep = flash(b.url, models["new"], board_id=BOARD_ID, key=KEY, epoch_file=epoch_file)
    b.kill()
    with open(b.storage, "r+b") as fh:  # bit rot in the new model's slot
        t = get_target(b.target)
        fh.seek(t.slots_off + rep.slot * t.slot_size + 500)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 0xFF]))
    assert_serves(old_board().url, models["old"], epoch_file)


def test_board1_key_cannot_load_board2(
    host_elf, host_target, models, epoch_file, tmp_path, capsys
) -> None:
    """Per-board keys: a party holding board 1's key gets no LOAD session into board 2."""
    k1, k2 = derive_board_key(MASTER, 1), derive_board_key(MASTER, 2)
    with qemu.start_host(
        tmp_path / "b2.bin", board_id=2, key=k2, elf=host_elf, target=host_target
    ) as b:
        flash(b.url, models["old"], board_id=2, key=BoardKeys(MASTER), epoch_file=epoch_file)
        counts = load_attack(
            b.url,
            victim_id=2,
            victim_key=k2,
            attacker_id=1,
            attacker_key=k1,
            artifact=models["new"],
            epoch_file=epoch_file,
        )
    with capsys.disabled():
        print(f"\n[per-board keys, host firmware] board 1's key against board 2: {counts}")
    assert_refused(counts)


def test_firmware_keeps_the_older_sender_and_challenges_a_stale_one(old_board, models) -> None:
    """docs/protocol.md §4 on the C firmware: a flash-like newer sender does not lock out the one
    serving, and a sender older than a forged huge epoch gets in through the challenge."""
    b = old_board()
    x = bytes(_input_size(models["old"]))
    with BoardSession(b.url, board_id=BOARD_ID, key=KEY, counter=Counter(1000)) as serving:
        assert serving.hello().input_bytes == len(x)
        with BoardSession(b.url, board_id=BOARD_ID, key=KEY, counter=Counter(1001)) as newer:
            newer.hello()
            newer.readback()
        assert serving.infer(x).TYPE == MsgType.RESULT  # its window survived the newer sender
        with BoardSession(b.url, board_id=BOARD_ID, key=KEY, counter=Counter(0xFFFFFFFF)) as forged:
            forged.hello()
        assert serving.infer(x).TYPE == MsgType.RESULT
    with BoardSession(b.url, board_id=BOARD_ID, key=KEY, counter=Counter(1002)) as restarted:
        assert restarted.hello().input_bytes == len(x)  # one STALE_COUNTER round trip
        assert restarted.infer(x).TYPE == MsgType.RESULT


def _input_size(vpw: bytes) -> int:
    from firmware_bridge.engine import Engine

    return int(Engine(vpw).info["input_size"])
