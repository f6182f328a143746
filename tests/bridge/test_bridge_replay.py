"""The anti-replay window (docs/protocol.md §4): reordered frames accepted exactly once, duplicates
and frames older than 64 counters dropped, a new epoch above everything, C equal to Python."""

from __future__ import annotations

import random
import struct
from pathlib import Path

from bridge_helpers import KEY, run_harness
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import (
    Auth,
    Result,
    StreamDecoder,
    crc32c,
    decode_datagram,
    encode_frame,
    to_serial,
)
from firmware_bridge.protocol.counter import REPLAY_WINDOW, ReplayWindow
from firmware_bridge.protocol.frame import tag

RESULT = Result(900, ((3, 100), (5, -7)))
EPOCH = 7 << 32


def result(counter: int, board_id: int = 7) -> bytes:
    return encode_frame(
        RESULT, board_id=board_id, request_id=counter & 0xFFFF, counter=counter, key=KEY
    )


def accepted(auth: Auth, counters: list[int]) -> list[int]:
    """The counters of ``counters`` that ``auth`` accepts, in arrival order."""
    return [c for c in counters if decode_datagram(result(c), auth) is not None]


def test_reordered_frames_within_the_window_are_accepted_exactly_once() -> None:
    auth = Auth(KEY, {7}, role="gateway")
    order = [EPOCH | s for s in (1, 3, 2, 5, 4, 64, 6, 7)]
    assert accepted(auth, order) == order  # each overtaken frame still counts
    assert accepted(auth, order) == []  # and a second copy of any of them is a replay
    assert auth.stats["accepted"] == 8 and auth.stats["replay"] == 8


def test_duplicates_and_frames_older_than_the_window_are_replays() -> None:
    auth = Auth(KEY, {7}, role="gateway")
    top = EPOCH | 200
    assert accepted(auth, [top, top]) == [top]
    oldest = top - (REPLAY_WINDOW - 1)
    assert accepted(auth, [top - REPLAY_WINDOW, top - 100, oldest, oldest]) == [oldest]
    # a jump of 70 moves the window past everything accepted so far
    assert accepted(auth, [top + 70, oldest + 1, top + 7, top]) == [top + 70, top + 7]
    assert auth.stats["replay"] == 6  # the duplicate, two too old, the repeat, two left behind


def test_a_new_epoch_is_above_everything_and_the_old_epoch_falls_out() -> None:
    auth = Auth(KEY, {7}, role="gateway")
    old = [EPOCH | s for s in range(1, 6)]
    new = [(8 << 32) | s for s in (2, 1, 3)]
    assert accepted(auth, old[:3] + new) == old[:3] + new
    assert accepted(auth, old) == []  # old boot: recorded or never seen, all outside the window


def test_a_frame_dropped_after_the_counter_check_does_not_consume_its_counter() -> None:
    auth = Auth(KEY, {7}, role="gateway")
    assert accepted(auth, [EPOCH | 10]) == [EPOCH | 10]
    head = struct.pack("<BBBBHIHQ", 0x56, 1, 5, 0, 7, 0, 5, EPOCH | 9) + bytes(5)  # k = 0
    body = head + tag(KEY, head)
    assert decode_datagram(body + struct.pack("<I", crc32c(body)), auth) is None
    assert auth.stats["bad_payload"] == 1
    assert accepted(auth, [EPOCH | 9]) == [EPOCH | 9]  # the authentic frame 9 still gets in


def test_windows_are_per_sender() -> None:
    auth = Auth(KEY, {7, 8}, role="gateway")
    assert decode_datagram(result(EPOCH | 100, board_id=8), auth)
    assert decode_datagram(result(EPOCH | 1, board_id=7), auth)  # far below board 8's window
    assert decode_datagram(result(EPOCH | 1, board_id=8), auth) is None


def reference_accepts(counters: list[int]) -> list[bool]:
    """The window's rule stated directly: above the highest accepted, or within 64 of it and
    never accepted."""
    seen: set[int] = set()
    out = []
    for c in counters:
        top = max(seen, default=None)
        ok = top is None or c > top or (top - c < REPLAY_WINDOW and c not in seen)
        if ok:
            seen.add(c)
        out.append(ok)
    return out


@settings(max_examples=300)
@given(
    st.lists(
        st.integers(0, 300) | st.integers(2**32 - 70, 2**32 + 70) | st.just(2**64 - 1), max_size=120
    )
)
def test_window_equals_its_rule_on_any_counter_sequence(counters: list[int]) -> None:
    window = ReplayWindow()
    got = []
    for c in counters:
        ok = window.fresh(c)
        if ok:
            window.accept(c)
        got.append(ok)
    assert got == reference_accepts(counters)


def counter_walk(rng: random.Random, n: int) -> list[int]:
    """Counters as an impaired link delivers them: in order, overtaken, duplicated, far behind,
    jumps ahead and new epochs."""
    top, out = EPOCH | 1, []
    for _ in range(n):
        r = rng.random()
        if r < 0.35:
            top += rng.randint(1, 3)
            c = top
        elif r < 0.45:
            top += rng.randint(REPLAY_WINDOW - 2, 3 * REPLAY_WINDOW)
            c = top
        elif r < 0.5:
            top = ((top >> 32) + 1) << 32 | rng.randint(1, 3)
            c = top
        elif r < 0.8:
            c = top - rng.randint(1, REPLAY_WINDOW + 2)
        else:
            c = rng.choice(out) if out else top
        out.append(c)
    return out


def test_c_accepts_the_same_counters_as_python(harness: Path) -> None:
    rng = random.Random(16)
    senders = [[result(c, board_id=b) for c in counter_walk(rng, 300)] for b in (3, 9, 12)]
    frames: list[bytes] = []
    while any(senders):  # interleave the three senders, each in its own order
        frames.append(rng.choice([s for s in senders if s]).pop(0))
    wire = b"".join(to_serial(f) for f in frames)
    auth = Auth(KEY, role="gateway")
    py = [
        f"OK {int(f.msg_type)} {f.board_id} {f.request_id} {f.counter}"
        for f in StreamDecoder(auth).feed(wire)
    ]
    hexed = wire.hex()
    lines = run_harness(
        harness,
        ["stream", KEY.hex(), "g"],
        "\n".join(hexed[i : i + 1000] for i in range(0, len(hexed), 1000)) + "\n",
    )
    assert lines[:-1] == py
    c_stats = {k: int(v) for k, v in (kv.split("=") for kv in lines[-1].split()[1:])}
    assert c_stats == auth.stats
    assert auth.stats["replay"] > 150 and auth.stats["accepted"] > 400
