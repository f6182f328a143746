"""Payload codec, CRC-32C and COBS: round trips, limits, and the 64-byte RESULT budget."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge import (
    MAX_K,
    STATUS_TEXT,
    BoardKind,
    Counter,
    Error,
    Heartbeat,
    Hello,
    Infer,
    InferStage,
    LoadAck,
    LoadBegin,
    LoadChunk,
    LoadCommit,
    MsgType,
    Probe,
    ProtocolError,
    Readback,
    ReadbackReply,
    Result,
    Sender,
    Status,
    Tensor,
    cobs_decode,
    cobs_encode,
    crc32c,
    result_frame_size,
    to_serial,
    unpack_message,
)
from firmware_bridge.protocol.cobs import max_encoded_len
from firmware_bridge.protocol.samples import sample_messages

u8, u16, u32 = (st.integers(0, 2**b - 1) for b in (8, 16, 32))
i8 = st.integers(-128, 127)
sha = st.binary(min_size=32, max_size=32)
f32 = st.floats(width=32, allow_nan=False)
names = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=32)
statuses = st.sampled_from(list(Status))


@st.composite
def infers(draw: st.DrawFn) -> Infer:
    data = draw(st.binary(min_size=1, max_size=1156))
    count = draw(st.integers(1, 0xFFFF))
    offset = draw(st.integers(0, 2**32 - 1 - len(data)))
    total = draw(st.integers(offset + len(data), 2**32 - 1))
    return Infer(draw(st.integers(0, count - 1)), count, offset, total, data)


def headed_chunks(cls: type, head: st.SearchStrategy) -> st.SearchStrategy:
    """TENSOR / INFER_STAGE: their 4-byte head field, then an INFER chunk's fields."""
    return st.builds(
        lambda h, c: cls(h, c.chunk_index, c.chunk_count, c.offset, c.total, c.data), head, infers()
    )


MESSAGES = st.one_of(
    st.builds(
        Hello,
        st.sampled_from(list(BoardKind)),
        st.integers(0, MAX_K),
        u16,
        u32,
        sha,
        names,
        u16,
        f32,
        i8,
    ),
    st.builds(Probe, st.sampled_from([MsgType.HELLO, MsgType.HEARTBEAT])),
    st.builds(Heartbeat, u32, u32, u32, u32, u32, u32),
    infers(),
    st.builds(Result, u32, st.lists(st.tuples(u16, i8), min_size=1, max_size=MAX_K).map(tuple)),
    st.builds(Error, statuses, u32),
    headed_chunks(Tensor, u32),
    headed_chunks(InferStage, u8),
    st.builds(LoadBegin, st.integers(1, 2**32 - 1), u8, sha, sha),
    st.builds(LoadChunk, u32, u32, st.binary(min_size=1, max_size=1100)),
    st.builds(LoadCommit, st.booleans()),
    st.builds(
        LoadAck,
        st.sampled_from([MsgType.LOAD_BEGIN, MsgType.LOAD_CHUNK, MsgType.LOAD_COMMIT]),
        statuses,
        u32,
    ),
    st.builds(Readback, u8),
    st.builds(ReadbackReply, u8, statuses, u32, sha),
)


def test_crc32c_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"56789", crc32c(b"1234")) == 0xE3069283


@given(st.binary(max_size=2000))
def test_cobs_round_trip_and_bound(data: bytes) -> None:
    enc = cobs_encode(data)
    assert 0 not in enc
    assert len(enc) <= max_encoded_len(len(data))
    assert cobs_decode(enc) == data


@given(st.binary(max_size=600))
def test_cobs_decode_never_raises(data: bytes) -> None:
    out = cobs_decode(data)
    assert out is None or isinstance(out, bytes)


@given(MESSAGES)
def test_every_message_round_trips(msg: object) -> None:
    payload = msg.pack()  # type: ignore[attr-defined]
    assert unpack_message(msg.TYPE, payload) == msg  # type: ignore[attr-defined]


def test_samples_cover_every_type() -> None:
    assert {m.TYPE for m in sample_messages()} == set(MsgType)
    assert set(STATUS_TEXT) == set(Status)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_result_frame_fits_64_bytes(k: int) -> None:
    tx = Sender(b"key", Counter(1), board_id=0xFFFF)
    msg = Result(2**32 - 1, tuple((0xFFFF, -128) for _ in range(k)))
    frame = tx.frame(msg, request_id=2**32 - 1)
    assert len(frame) == result_frame_size(k) == 37 + 3 * k <= 64
    assert len(to_serial(frame)) == len(frame) + 2  # COBS +1 (frame < 254 B) and 0x00


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Hello(BoardKind.MCU, 5, 10, 1, bytes(31), "x").pack(),
        lambda: Hello(BoardKind.MCU, 5, 10, 1, bytes(32), "x" * 33).pack(),
        lambda: Hello(BoardKind.MCU, 5, 10, 1, bytes(32), "caf\u00e9").pack(),
        lambda: Result(1, ()).pack(),
        lambda: Result(1, ((70000, 1),)).pack(),
        lambda: Result(1, ((1, 128),)).pack(),
        lambda: Infer(3, 3, 0, 10, b"x").pack(),
        lambda: Infer(0, 1, 10, 10, b"x").pack(),
        lambda: LoadChunk(0, 0, b"").pack(),
        lambda: LoadBegin(0, 0, bytes(32), bytes(32)).pack(),
        lambda: Probe(MsgType.RESULT).pack(),
        lambda: Hello(BoardKind.MCU, MAX_K + 1, 10, 1, bytes(32), "x").pack(),
        lambda: Tensor(1, 0, 1, 0, 10, b"").pack(),
        lambda: Tensor(1, 1, 1, 0, 10, b"x").pack(),
        lambda: InferStage(256, 0, 1, 0, 1, b"x").pack(),
        lambda: InferStage(1, 0, 1, 5, 5, b"x").pack(),
    ],
)
def test_invalid_values_raise_protocol_error(bad) -> None:
    with pytest.raises(ProtocolError):
        bad()


@pytest.mark.parametrize(
    "msg_type,payload",
    [
        (MsgType.RESULT, bytes(5)),  # k = 0
        (MsgType.RESULT, b"\0\0\0\0\x02" + bytes(3)),  # k=2 with one pair
        (MsgType.ERROR, b"\xff\x00" + bytes(4)),  # unknown status
        (MsgType.HELLO, b"\0\x21" + bytes(47)),  # k = 33
        (MsgType.TENSOR, bytes(16)),  # no data
        (MsgType.TENSOR, bytes(15)),  # shorter than its fixed part
        (MsgType.INFER_STAGE, b"\x01\0\0\0" + bytes(12)),  # no data
        (
            MsgType.INFER_STAGE,
            b"\x01\0\x01\0" + b"\0\0\x01\0" + bytes(4) + b"\x01" + bytes(3) + b"x",
        ),
        (MsgType.LOAD_COMMIT, b"\x02"),
        (MsgType.LOAD_ACK, b"\x04\x00" + bytes(6)),
        (MsgType.INFER, bytes(12)),  # no data
        (0x7F, b""),
    ],
)
def test_malformed_payloads_raise(msg_type: int, payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        unpack_message(msg_type, payload)


def test_hello_k0_means_tensor_board() -> None:
    h = Hello(BoardKind.EMULATED, 0, 64, 3072, bytes(32), "mp_part0")
    assert unpack_message(MsgType.HELLO, h.pack()) == h


def test_hello_sizes() -> None:
    h = Hello(BoardKind.LINUX, 5, 10, 3072, hashlib.sha256(b"m").digest(), "a035_r96")
    assert len(h.pack()) == 49 + 8


def test_protocol_md_test_vectors() -> None:
    """The vectors printed in docs/protocol.md §7, so C implementers can trust them."""
    from firmware_bridge import encode_frame

    udp = encode_frame(
        Result(1834, ((3, 127), (7, -2), (1, -128))),
        board_id=7,
        request_id=0x01020304,
        counter=(1 << 32) | 1,
        key=b"vp-edge test key",
    )
    assert udp.hex() == (
        "560105000700040302010e0001000000010000002a0700000303007f0700fe0100"
        "8044af68ddfcaf456d179c2f51"
    )
    assert to_serial(udp).hex() == (
        "04560105020706040302010e0201010102010101032a07010303"
        "03037f0703fe010e8044af68ddfcaf456d179c2f5100"
    )
    probe = encode_frame(
        Probe(MsgType.HELLO), board_id=7, request_id=5, counter=(2 << 32) | 9, key=None
    )
    assert probe.hex() == "5601020307000500000001000900000002000000015edf7712"
    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    assert udp.hex() in doc and to_serial(udp).hex() in doc and probe.hex() in doc
    tensor = encode_frame(
        Tensor(1834, 0, 1, 0, 4, bytes([1, 0xFF, 0x80, 0x7F])),
        board_id=7,
        request_id=0x01020304,
        counter=(1 << 32) | 2,
        key=b"vp-edge test key",
    )
    stage = encode_frame(
        InferStage(1, 0, 1, 0, 3, bytes([5, 6, 7])),
        board_id=7,
        request_id=0x01020304,
        counter=(1 << 32) | 3,
        key=None,
    )
    assert len(tensor) == 52 and tensor.hex() in doc
    assert len(stage) == 43 and stage.hex() in doc


def test_tensor_and_infer_stage_chunk_over_a_small_max_frame() -> None:
    """TENSOR / INFER_STAGE reuse INFER's chunker and reassembler: frames fit, bytes come back."""
    from firmware_bridge import (
        Auth,
        Reassembler,
        decode_datagram,
        split_infer_stage,
        split_tensor,
    )

    data = bytes(range(256)) * 12 + bytes(64)  # 3,136 bytes
    tx_board = Sender(b"k" * 16, Counter(1), board_id=3)
    tx_gw = Sender(b"k" * 16, Counter(1), board_id=3, from_gateway=True)
    for chunks, tx, role in (
        (split_tensor(data, 77, max_frame=200), tx_board, "gateway"),
        (split_infer_stage(data, 2, max_frame=200), tx_gw, "board"),
    ):
        assert len(chunks) == -(-len(data) // (200 - 48))
        frames = [tx.frame(c, request_id=9) for c in chunks]
        assert all(len(f) <= 200 for f in frames) and len(frames[0]) == 200
        auth, reasm = Auth(b"k" * 16, {3}, role=role), Reassembler()
        got = [reasm.add_frame(decode_datagram(f, auth, 200)) for f in frames]
        assert got[-1] == data and got[:-1] == [None] * (len(frames) - 1)
    assert [type(c) for c in split_infer_stage(data, 0)] == [Infer] * 3  # stage 0 is plain INFER
