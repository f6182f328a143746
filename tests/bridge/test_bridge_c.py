"""The C codec against the Python one: generated header, byte-exact frames, same drop reasons."""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from bridge_helpers import C_DIR, KEY, run_harness

from firmware_bridge import (
    Auth,
    BoardKind,
    Counter,
    Hello,
    Infer,
    LoadChunk,
    Message,
    Result,
    Sender,
    StreamDecoder,
    crc32c,
    decode_datagram,
    split_infer,
    split_tensor,
    to_serial,
)
from firmware_bridge.protocol import FROM_GATEWAY_TYPES
from firmware_bridge.protocol.cheader import generate
from firmware_bridge.protocol.samples import sample_messages


def test_committed_header_equals_generated() -> None:
    committed = (C_DIR / "vp_proto_defs.h").read_text()
    assert committed == generate(), (
        "regenerate: python -m firmware_bridge.protocol.cheader"
        " > firmware_bridge/protocol/c/vp_proto_defs.h"
    )


def random_messages(n: int, seed: int = 3) -> list[Message]:
    rng = random.Random(seed)
    out: list[Message] = list(sample_messages())
    for _ in range(n):
        k = rng.randint(1, 32)
        out.append(
            Result(
                rng.getrandbits(32),
                tuple((rng.getrandbits(16), rng.randint(-128, 127)) for _ in range(k)),
            )
        )
        data = rng.randbytes(rng.randint(1, 1100))
        out.append(Infer(0, 1, 0, len(data) + rng.randint(0, 9), data))
        name = "".join(chr(rng.randint(0x20, 0x7E)) for _ in range(rng.randint(0, 32)))
        out.append(
            Hello(
                BoardKind(rng.randint(0, 4)),
                rng.randint(1, 32),
                rng.getrandbits(16),
                rng.getrandbits(32),
                rng.randbytes(32),
                name,
                rng.getrandbits(16),
                struct.unpack("<f", struct.pack("<f", rng.uniform(-1, 1)))[0],
                rng.randint(-128, 127),
            )
        )
        out.append(LoadChunk(rng.getrandbits(32), rng.getrandbits(32), rng.randbytes(900)))
    return out


def _frames(msgs: list[Message], key: bytes | None) -> list[tuple[str, bytes]]:
    board = Sender(key, Counter(5), board_id=0x1234)
    gw = Sender(key, Counter(9), board_id=0x1234, from_gateway=True)
    out = []
    for i, msg in enumerate(msgs):
        to_board = msg.TYPE in FROM_GATEWAY_TYPES
        tx = gw if to_board else board
        out.append(("b" if to_board else "g", tx.frame(msg, request_id=i * 2654435761 % 2**32)))
    return out


@pytest.mark.parametrize(
    "key", [KEY, None, bytes(range(100))], ids=["secure", "insecure", "long-key"]
)
def test_python_frames_decode_in_c_and_c_frames_match_byte_for_byte(
    harness: Path, key: bytes | None
) -> None:
    msgs = random_messages(60)
    frames = _frames(msgs, key)
    lines = run_harness(
        harness,
        ["frames", key.hex() if key else "-"],
        "".join(f"{r} {f.hex()}\n" for r, f in frames),
    )
    assert len(lines) == len(frames)
    for (role, frame), msg, line in zip(frames, msgs, lines, strict=True):
        status, c_frame, c_serial = line.split()
        assert status == "OK"
        assert bytes.fromhex(c_frame) == frame, msg.TYPE.name  # C encodes what Python encodes
        assert bytes.fromhex(c_serial) == to_serial(frame)
        auth = Auth(key, role="board" if role == "b" else "gateway")
        got = decode_datagram(bytes.fromhex(c_frame), auth)  # and Python decodes what C made
        assert got is not None and got.msg == msg


def _python_reason(frame: bytes, role: str) -> str:
    auth = Auth(KEY, role="board" if role == "b" else "gateway")
    before = dict(auth.stats)
    decode_datagram(frame, auth)
    (reason,) = [k for k, v in auth.stats.items() if v != before[k]]
    return "OK" if reason == "accepted" else reason


def _recrc(frame: bytes | bytearray) -> bytes:
    return bytes(frame[:-4]) + struct.pack("<I", crc32c(bytes(frame[:-4])))


def test_c_drops_what_python_drops_for_the_same_reason(harness: Path) -> None:
    rng = random.Random(11)
    cases: list[tuple[str, bytes]] = []
    for role, frame in _frames(sample_messages(), KEY):
        cases.append((role, frame[: rng.randrange(len(frame))]))
        for _ in range(20):
            bad = bytearray(frame)
            bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
            cases.append((role, bytes(bad)))
            cases.append((role, _recrc(bad)))  # header/payload damage behind a valid CRC
        cases.append(("g" if role == "b" else "b", frame))  # wrong direction
    for role, frame in _frames(sample_messages()[:3], None):
        cases.append((role, frame))  # insecure at a secure receiver
    lines = run_harness(
        harness, ["frames", KEY.hex()], "".join(f"{r} {f.hex()}\n" for r, f in cases)
    )
    for (role, frame), line in zip(cases, lines, strict=True):
        parts = line.split()
        c_reason = parts[1] if parts[0] == "DROP" else "OK"
        assert c_reason == _python_reason(frame, role), frame.hex()
    assert sum(line.startswith("DROP") for line in lines) > 400


def test_stream_with_garbage_same_frames_and_stats_in_c(harness: Path) -> None:
    rng = random.Random(5)
    tx = Sender(KEY, Counter(3), board_id=7)
    wire = bytearray()
    for i in range(400):
        choice = rng.random()
        if choice < 0.3:
            wire += rng.randbytes(rng.randint(1, 400))
        elif choice < 0.4:
            wire += b"\x00" * rng.randint(1, 3)
        elif choice < 0.5:
            bad = bytearray(tx.serial(Result(i, ((1, 2),)), request_id=i))
            bad[rng.randrange(len(bad) - 1)] ^= 1 << rng.randrange(8)
            wire += bad
        elif choice < 0.55:
            wire += b"\x05" * 3000 + b"\x00"  # over-long block
        else:
            msg = rng.choice([m for m in sample_messages() if m.TYPE not in FROM_GATEWAY_TYPES])
            wire += tx.serial(msg, request_id=i)
    auth = Auth(KEY, role="gateway")
    py = [
        f"OK {int(f.msg_type)} {f.board_id} {f.request_id} {f.counter}"
        for f in StreamDecoder(auth).feed(bytes(wire))
    ]
    hexed = wire.hex()
    lines = run_harness(
        harness,
        ["stream", KEY.hex(), "g"],
        "\n".join(hexed[i : i + 1000] for i in range(0, len(hexed), 1000)) + "\n",
    )
    assert lines[:-1] == py and len(py) > 100
    c_stats = dict(kv.split("=") for kv in lines[-1].split()[1:])
    assert {k: int(v) for k, v in c_stats.items()} == auth.stats


def test_c_reassembles_python_chunks_and_times_out(harness: Path) -> None:
    rng = random.Random(2)
    tensor = rng.randbytes(5000)
    gw = Sender(KEY, Counter(1), board_id=3, from_gateway=True)
    chunks = split_infer(tensor, max_frame=600)
    a = [gw.frame(c, request_id=1) for c in chunks]
    b = [gw.frame(c, request_id=2) for c in chunks[:-1]]  # never finished
    c = [gw.frame(c, request_id=3) for c in chunks]
    lines_in = [f"0 {f.hex()}" for f in a] + [f"0 {a[0].hex()}"] + [f"10 {f.hex()}" for f in b]
    lines_in += [f"2000 {f.hex()}" for f in c]
    out = run_harness(harness, ["reasm", KEY.hex(), "65536"], "\n".join(lines_in) + "\n")
    assert out[0] == f"DONE 1 {tensor.hex()}"
    assert out[1] == "EXPIRED 2"
    assert out[2] == f"DONE 3 {tensor.hex()}"
    assert out[3] == "STATS completed=2 incomplete=1 inconsistent=0 duplicate=0 too_big=0"


@pytest.mark.parametrize(
    ("size", "max_frame", "key"),
    [
        (1, 1200, KEY),
        (1152, 1200, KEY),
        (1153, 1200, KEY),
        (3136, 1200, KEY),
        (3136, 1200, None),
        (392, 128, KEY),
        (1000, 49, KEY),
    ],
)
def test_c_tensor_chunks_are_split_tensor(
    harness: Path, size: int, max_frame: int, key: bytes | None
) -> None:
    """vp_chunk_split (what a k = 0 firmware sends) makes the frames split_tensor makes."""
    tensor = random.Random(size).randbytes(size)
    out = run_harness(
        harness, ["tensor", key.hex() if key else "-", str(max_frame), "1834"], tensor.hex() + "\n"
    )
    auth = Auth(key, {3}, role="gateway")
    got = [decode_datagram(bytes.fromhex(line), auth, max_frame) for line in out]
    assert all(f is not None and f.request_id == 9 for f in got), auth.stats
    assert [f.msg for f in got] == split_tensor(
        tensor, 1834, max_frame=max_frame, secure=key is not None
    )


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc absent")
def test_c_library_builds_for_cortex_m4_without_warnings(tmp_path: Path) -> None:
    for src in ("vp_proto.c", "vp_msg.c"):
        subprocess.run(
            [
                "arm-none-eabi-gcc",
                "-std=c99",
                "-mcpu=cortex-m4",
                "-mthumb",
                "-Os",
                "-ffreestanding",
                "-Wall",
                "-Wextra",
                "-Wpedantic",
                "-Wconversion",
                "-Werror",
                "-c",
                str(C_DIR / src),
                "-o",
                str(tmp_path / "x.o"),
            ],
            check=True,
        )
