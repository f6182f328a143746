"""Frames and receivers: round trips, garbage, bit flips, resync, tags, replay, reboots."""

from __future__ import annotations

import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from bridge_helpers import KEY
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import (
    DROP_REASONS,
    MAX_FRAME,
    Auth,
    Counter,
    EpochStore,
    Flag,
    MsgType,
    Probe,
    Result,
    Sender,
    StreamDecoder,
    decode_datagram,
    encode_frame,
    to_serial,
)
from firmware_bridge.protocol import FROM_GATEWAY_TYPES
from firmware_bridge.protocol.samples import sample_messages

SAMPLES = sample_messages()
RESULT = Result(900, ((3, 100), (5, -7), (1, 2)))


def board_tx(key: bytes | None = KEY, board_id: int = 7, epoch: int = 1) -> Sender:
    return Sender(key, Counter(epoch), board_id=board_id)


def gw_rx(key: bytes | None = KEY, boards: set[int] | None = None, **kw: bool) -> Auth:
    return Auth(key, {7} if boards is None else boards, role="gateway", **kw)


def sent_frames(key: bytes | None = KEY) -> list[tuple[bytes, Auth]]:
    """Each sample message as a frame with the receiver that should accept it."""
    board, gw = board_tx(key), Sender(key, Counter(2), board_id=7, from_gateway=True)
    out = []
    for msg in SAMPLES:
        if msg.TYPE in FROM_GATEWAY_TYPES:
            out.append((gw.frame(msg, 11), Auth(key, {7}, role="board")))
        else:
            out.append((board.frame(msg, 11), gw_rx(key)))
    return out


@pytest.mark.parametrize("key", [KEY, None], ids=["secure", "insecure"])
def test_every_type_round_trips_on_udp_and_serial(key: bytes | None) -> None:
    for (frame, auth), msg in zip(sent_frames(key), SAMPLES, strict=True):
        got = decode_datagram(frame, auth)
        assert got is not None and got.msg == msg and got.request_id == 11
        assert bool(got.flags & Flag.INSECURE) == (key is None)
        auth.forget(7)
        (again,) = StreamDecoder(auth).feed(to_serial(frame))
        assert again == got
    assert len(frame) <= MAX_FRAME


def test_stats_have_every_reason() -> None:
    assert set(gw_rx().stats) == {"accepted", *DROP_REASONS}


@settings(max_examples=300)
@given(st.binary(max_size=3000), st.integers(1, 64))
def test_random_garbage_never_raises_never_accepts(data: bytes, step: int) -> None:
    auth = gw_rx(boards=None)
    dec = StreamDecoder(auth)
    for i in range(0, len(data), step):
        assert dec.feed(data[i : i + step]) == []
    assert decode_datagram(data, auth) is None
    assert auth.stats["accepted"] == 0


def test_every_truncation_and_single_bit_flip_is_dropped() -> None:
    tried = 0
    for frame, auth in sent_frames():
        for cut in range(len(frame)):
            assert decode_datagram(frame[:cut], auth) is None
            tried += 1
        bits = range(len(frame) * 8)
        if len(frame) > 200:  # big frames: header, trailer and a sample of the payload bits
            rng = random.Random(len(frame))
            bits = [*range(160), *range(len(bits) - 96, len(bits)), *rng.sample(bits, 800)]
        for bit in bits:
            bad = bytearray(frame)
            bad[bit // 8] ^= 1 << (bit % 8)
            assert decode_datagram(bytes(bad), auth) is None
            assert not StreamDecoder(auth).feed(to_serial(bytes(bad)))
            tried += 2
        assert auth.stats["accepted"] == 0
    assert tried > 15_000


def test_multi_bit_flips_with_recomputed_crc_fail_the_tag() -> None:
    """A forger who fixes the CRC still cannot pass the HMAC tag."""
    rng = random.Random(1)
    frame, auth = sent_frames()[4]
    for _ in range(2000):
        bad = bytearray(frame)
        for _ in range(rng.randint(1, 8)):
            bad[rng.randrange(len(frame) - 4)] ^= 1 << rng.randrange(8)
        if bytes(bad) == frame:
            continue
        struct.pack_into("<I", bad, len(bad) - 4, _crc(bytes(bad[:-4])))
        assert decode_datagram(bytes(bad), auth) is None
    assert auth.stats["accepted"] == 0


def _crc(data: bytes) -> int:
    from firmware_bridge import crc32c

    return crc32c(data)


def test_resync_after_garbage_with_fake_delimiters() -> None:
    rng = random.Random(7)
    tx, auth = board_tx(), gw_rx()
    dec = StreamDecoder(auth)
    got = 0
    for trial in range(300):
        garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 1024)))
        stream = garbage + b"\x00" + tx.serial(RESULT, request_id=trial)
        pos = 0
        frames = []
        while pos < len(stream):  # random read sizes, like a UART driver
            n = rng.randint(1, 200)
            frames += dec.feed(stream[pos : pos + n])
            pos += n
        assert [f.request_id for f in frames] == [trial]
        got += 1
    assert got == 300 and auth.stats["accepted"] == 300


def test_overlong_block_is_dropped_and_next_frame_decoded() -> None:
    tx, auth = board_tx(), gw_rx()
    dec = StreamDecoder(auth, max_frame=256)
    frames = dec.feed(b"\x01" * 5000 + b"\x00" + tx.serial(RESULT))
    assert len(frames) == 1 and auth.stats["too_long"] == 1
    assert decode_datagram(b"\x00" * (MAX_FRAME + 1), auth) is None
    assert auth.stats["too_long"] == 2


def test_forged_tag_wrong_key_unknown_board_and_direction() -> None:
    auth = gw_rx()
    frame = board_tx().frame(RESULT)
    forged = bytearray(frame)
    forged[-5] ^= 0x01  # last tag byte, then fix the CRC
    struct.pack_into("<I", forged, len(forged) - 4, _crc(bytes(forged[:-4])))
    assert decode_datagram(bytes(forged), auth) is None
    assert decode_datagram(board_tx(key=b"other key").frame(RESULT), auth) is None
    assert auth.stats["bad_tag"] == 2
    assert decode_datagram(board_tx(board_id=8).frame(RESULT), auth) is None
    assert auth.stats["unknown_board"] == 1
    gw = Sender(KEY, Counter(1), board_id=7, from_gateway=True)
    assert decode_datagram(gw.frame(Probe()), auth) is None  # gateway frame reflected back
    lying = encode_frame(RESULT, board_id=7, request_id=0, counter=9, key=KEY, from_gateway=True)
    assert decode_datagram(lying, Auth(KEY, {7}, role="board")) is None  # board type, gw flag
    assert auth.stats["wrong_direction"] == 1
    assert decode_datagram(frame, auth) is not None


def test_replayed_and_reordered_counters() -> None:
    tx, auth = board_tx(), gw_rx()
    f1, f2, f3 = (tx.frame(RESULT, request_id=i) for i in range(3))
    assert decode_datagram(f1, auth) and decode_datagram(f3, auth)
    assert decode_datagram(f3, auth) is None  # duplicate
    assert decode_datagram(f2, auth)  # overtaken by f3, never seen: within the window
    assert decode_datagram(f2, auth) is None
    assert decode_datagram(f1, auth) is None
    assert auth.stats["replay"] == 3 and auth.stats["accepted"] == 3


def test_counters_are_per_sender() -> None:
    auth = gw_rx(boards={7, 8})
    assert decode_datagram(board_tx(board_id=7, epoch=5).frame(RESULT), auth)
    assert decode_datagram(board_tx(board_id=8, epoch=1).frame(RESULT), auth)


def test_insecure_frames_rejected_by_secure_receiver() -> None:
    insecure = board_tx(key=None).frame(RESULT)
    auth = gw_rx()
    assert decode_datagram(insecure, auth) is None and auth.stats["insecure"] == 1
    assert not StreamDecoder(auth).feed(to_serial(insecure))
    assert decode_datagram(insecure, gw_rx(allow_insecure=True)) is not None
    assert decode_datagram(insecure, gw_rx(key=None)) is not None
    keyless = gw_rx(key=None)
    assert decode_datagram(board_tx().frame(RESULT), keyless) is None  # cannot check the tag
    assert keyless.stats["bad_tag"] == 1
    clear_flag = bytearray(insecure)
    clear_flag[3] &= ~Flag.INSECURE  # claim secure without a tag: size no longer matches
    struct.pack_into("<I", clear_flag, len(clear_flag) - 4, _crc(bytes(clear_flag[:-4])))
    assert decode_datagram(bytes(clear_flag), auth) is None


def test_bad_version_flags_type_payload_are_counted() -> None:
    auth = gw_rx()
    frame = board_tx().frame(RESULT)
    for offset, value, reason in [
        (1, 2, "bad_version"),
        (3, 0x80, "bad_flags"),
        (2, 0x7F, "bad_type"),
        (0, 0x55, "bad_magic"),
    ]:
        bad = bytearray(frame)
        bad[offset] = value
        struct.pack_into("<I", bad, len(bad) - 4, _crc(bytes(bad[:-4])))
        assert decode_datagram(bytes(bad), auth) is None
        assert auth.stats[reason] == 1, reason
    # a well-signed frame whose payload is malformed (k=0) is dropped as bad_payload
    head = struct.pack("<BBBBHIHQ", 0x56, 1, 5, 0, 7, 0, 5, 99) + bytes(5)
    from firmware_bridge.protocol.frame import tag

    body = head + tag(KEY, head)
    assert decode_datagram(body + struct.pack("<I", _crc(body)), auth) is None
    assert auth.stats["bad_payload"] == 1


BOARD_SCRIPT = """
import sys, time
from firmware_bridge import EpochStore, Result, Sender
from firmware_bridge.protocol import Result
tx = Sender(bytes.fromhex(sys.argv[2]), EpochStore(sys.argv[1]).counter(), board_id=7)
for i in range(int(sys.argv[3])):
    print(tx.frame(Result(i, ((1, 2),)), request_id=i).hex(), flush=True)
if sys.argv[4] == "hang":
    time.sleep(60)
"""


def _board_process(epoch_file: Path, n: int, hang: bool) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            BOARD_SCRIPT,
            str(epoch_file),
            KEY.hex(),
            str(n),
            "hang" if hang else "exit",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_emulated_board_killed_and_restarted_is_accepted(tmp_path: Path) -> None:
    """The epoch persisted by the board makes its restarted counter larger than before."""
    auth = gw_rx()
    epoch_file = tmp_path / "board7.epoch"
    proc = _board_process(epoch_file, 3, hang=True)
    assert proc.stdout is not None
    first = [bytes.fromhex(proc.stdout.readline()) for _ in range(3)]
    proc.kill()  # no clean shutdown: nothing persisted after boot
    proc.wait()
    assert all(decode_datagram(f, auth) for f in first)
    proc = _board_process(epoch_file, 2, hang=False)
    out, _ = proc.communicate(timeout=30)
    second = [bytes.fromhex(line) for line in out.split()]
    assert all(decode_datagram(f, auth) for f in second)
    assert decode_datagram(first[-1], auth) is None  # the old boot's frames are replays now
    assert auth.stats["accepted"] == 5 and auth.stats["replay"] == 1
    assert EpochStore(epoch_file).read() == 2


def test_board_without_persisted_epoch_would_be_rejected() -> None:
    """Why the epoch matters: a restart that reuses the epoch looks like a replay."""
    auth = gw_rx()
    assert decode_datagram(board_tx(epoch=1).frame(RESULT), auth)
    assert decode_datagram(board_tx(epoch=1).frame(RESULT), auth) is None
    assert auth.stats["replay"] == 1


@settings(max_examples=400)
@given(st.sampled_from([*map(int, MsgType), 0, 0x7F]), st.binary(max_size=300), st.booleans())
def test_signed_garbage_payloads_never_raise(msg_type: int, payload: bytes, to_board: bool) -> None:
    """Well-framed, correctly signed frames with random type and payload: drop, never raise."""
    from firmware_bridge.protocol.frame import tag

    flags = int(Flag.FROM_GATEWAY) if to_board else 0
    head = struct.pack("<BBBBHIHQ", 0x56, 1, msg_type, flags, 7, 1, len(payload), 5) + payload
    body = head + tag(KEY, head)
    auth = Auth(KEY, {7}, role="board" if to_board else "gateway")
    frame = decode_datagram(body + struct.pack("<I", _crc(body)), auth)
    assert frame is None or frame.msg.pack() is not None
    assert sum(auth.stats.values()) == 1


@given(
    st.sampled_from(SAMPLES),
    st.integers(0, 0xFFFF),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**64 - 1),
)
def test_frame_header_fields_round_trip(msg: object, board: int, rid: int, ctr: int) -> None:
    to_board = msg.TYPE in FROM_GATEWAY_TYPES  # type: ignore[attr-defined]
    frame = encode_frame(msg, board_id=board, request_id=rid, counter=ctr, key=KEY)  # type: ignore[arg-type]
    got = decode_datagram(frame, Auth(KEY, role="board" if to_board else "gateway"))
    assert got is not None
    assert (got.msg, got.board_id, got.request_id, got.counter) == (msg, board, rid, ctr)
    assert got.from_gateway == to_board


def test_allow_adds_a_board_at_run_time() -> None:
    auth = gw_rx()
    frame = board_tx(board_id=9).frame(RESULT)
    assert decode_datagram(frame, auth) is None
    auth.allow(9)
    assert decode_datagram(frame, auth) is not None
