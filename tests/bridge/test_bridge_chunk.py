"""INFER chunking and reassembly: order, duplicates, contradictions, timeout, eviction."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge import (
    MAX_FRAME,
    Auth,
    ChunkError,
    Counter,
    Infer,
    Reassembler,
    Sender,
    StreamDecoder,
    chunk_capacity,
    decode_datagram,
    split_infer,
)

KEY = b"k" * 32


@given(st.binary(min_size=1, max_size=20_000), st.integers(64, 1500), st.randoms())
def test_split_then_reassemble_in_any_order(
    tensor: bytes, max_frame: int, rnd: random.Random
) -> None:
    chunks = split_infer(tensor, max_frame=max_frame)
    gw = Sender(KEY, Counter(1), from_gateway=True)
    auth, reasm = Auth(KEY, {3}, role="board"), Reassembler()
    frames = [
        decode_datagram(gw.frame(c, request_id=42, board_id=3), auth, max_frame=max_frame)
        for c in chunks
    ]
    assert auth.stats["accepted"] == len(chunks)  # every frame fits max_frame
    rnd.shuffle(frames)  # UDP reorders: the reassembler must not care
    results = [reasm.add_frame(f, now=0.0) for f in frames if f is not None]
    assert [r for r in results if r is not None] == [tensor]
    assert reasm.stats["completed"] == 1 and reasm.pending == 0


def test_default_budget_chunking_over_serial() -> None:
    tensor = bytes(random.Random(0).randrange(256) for _ in range(96 * 96 * 3))
    chunks = split_infer(tensor)
    assert chunk_capacity() == MAX_FRAME - 44 == 1156
    assert len(chunks) == -(-len(tensor) // 1156)
    gw = Sender(KEY, Counter(1), from_gateway=True)
    dec, reasm = StreamDecoder(Auth(KEY, {3}, role="board")), Reassembler()
    wire = b"".join(gw.serial(c, request_id=9, board_id=3) for c in chunks)
    out = [reasm.add_frame(f) for f in dec.feed(wire)]
    assert out[-1] == tensor and out.count(None) == len(chunks) - 1


def test_duplicates_ignored_and_late_duplicates_after_completion() -> None:
    reasm = Reassembler()
    chunks = split_infer(bytes(2500), max_frame=1000)
    assert reasm.add("r", chunks[0], now=0) is None
    assert reasm.add("r", chunks[0], now=0) is None
    assert reasm.add("r", chunks[1], now=0) is None
    assert reasm.add("r", chunks[2], now=0) is not None
    assert reasm.add("r", chunks[2], now=0) is None
    assert reasm.stats["duplicate"] == 2 and reasm.pending == 0


def test_timeout_drops_incomplete_requests() -> None:
    reasm = Reassembler(timeout_s=0.5)
    chunks = split_infer(bytes(3000), max_frame=1000)
    reasm.add((1, 1), chunks[0], now=10.0)
    reasm.add((1, 2), chunks[0], now=10.4)
    assert reasm.expire(now=10.45) == []
    assert reasm.expire(now=10.6) == [(1, 1)]
    assert reasm.add((1, 2), chunks[1], now=10.8) is None
    assert reasm.stats["incomplete"] == 1
    assert reasm.add((1, 2), chunks[2], now=11.0) is None  # (1, 2) expired on this add
    assert reasm.stats["incomplete"] == 2 and reasm.pending == 1  # chunk 2 started afresh


@pytest.mark.parametrize(
    "bad",
    [
        Infer(1, 3, 900, 2500, bytes(956)),  # wrong offset for stride 956
        Infer(1, 3, 956, 2501, bytes(956)),  # total changes
        Infer(1, 4, 956, 2500, bytes(956)),  # count changes
        Infer(1, 3, 956, 2500, bytes(955)),  # stride changes
        Infer(2, 3, 1800, 2500, bytes(700)),  # last chunk at the wrong offset (1912)
    ],
)
def test_contradicting_chunks_drop_the_request(bad: Infer) -> None:
    reasm = Reassembler()
    first = split_infer(bytes(2500), max_frame=1000)[0]
    assert len(first.data) == 956
    reasm.add("r", first, now=0)
    assert reasm.add("r", bad, now=0) is None
    assert reasm.stats["inconsistent"] == 1 and reasm.pending == 0


def test_last_chunk_first_is_checked_when_stride_is_known() -> None:
    reasm = Reassembler()
    c = split_infer(bytes(2500), max_frame=1000)
    assert len(c) == 3
    assert reasm.add("r", Infer(2, 3, 1800, 2500, bytes(700)), now=0) is None
    assert reasm.add("r", c[0], now=0) is None
    assert reasm.stats["inconsistent"] == 1


def test_eviction_and_size_limit() -> None:
    reasm = Reassembler(max_pending=2, max_total=5000)
    c = split_infer(bytes(3000), max_frame=1000)[0]
    for key in range(3):
        reasm.add(key, c, now=0)
    assert reasm.pending == 2 and reasm.stats["evicted"] == 1
    assert reasm.add("big", Infer(0, 2, 0, 6000, b"x"), now=0) is None
    assert reasm.stats["too_big"] == 1


def test_split_rejects_what_cannot_be_sent() -> None:
    with pytest.raises(ChunkError):
        split_infer(b"")
    with pytest.raises(ChunkError):
        split_infer(b"x", max_frame=44)
    assert len(split_infer(b"x", max_frame=45)) == 1
    assert len(split_infer(bytes(10), max_frame=37, secure=False)) == 10
