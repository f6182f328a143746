"""Several gateway-side senders per board (docs/protocol.md §4): a board keeps one replay window per
sender epoch, so a gateway, a flash, a probe and a monitor never lock each other out; a sender
older than the newest one is stale until it answers the board's challenge, so a forged huge
counter costs a restarted gateway one round trip, not the board."""

from __future__ import annotations

import random
from pathlib import Path

from bridge_helpers import KEY, run_harness

from firmware_bridge import Auth, Infer, Probe, Readback, Sender, StreamDecoder, to_serial
from firmware_bridge.protocol import MsgType
from firmware_bridge.protocol.counter import Counter
from firmware_bridge.protocol.frame import MAX_STREAMS, challenge_nonce

BOARD = 7


def gw(epoch: int) -> Sender:
    return Sender(KEY, Counter(epoch), board_id=BOARD, from_gateway=True)


def probe(tx: Sender, rid: int = 5) -> bytes:
    return tx.frame(Probe(MsgType.HELLO), rid)


def infer(tx: Sender, rid: int = 9) -> bytes:
    return tx.frame(Infer(0, 1, 0, 3, b"abc"), rid)


def board_auth() -> Auth:
    return Auth(KEY, {BOARD}, role="board")


def ok(auth: Auth, frame: bytes) -> bool:
    return bool(StreamDecoder(auth).feed(to_serial(frame)))


def test_a_flash_between_two_gateway_requests_locks_nobody_out() -> None:
    auth, gateway, flash = board_auth(), gw(1000), gw(1001)
    assert ok(auth, probe(gateway)) and ok(auth, infer(gateway))
    assert ok(auth, probe(flash)) and ok(auth, flash.frame(Readback(0xFF), 3))
    assert ok(auth, infer(gateway))  # the older, running gateway keeps its own window
    assert ok(auth, infer(flash))
    assert auth.stats["stale"] == auth.stats["replay"] == 0


def test_each_sender_still_has_its_replay_window() -> None:
    auth, a, b = board_auth(), gw(1000), gw(1001)
    fa, fb_ = infer(a), infer(b)
    assert ok(auth, fa) and ok(auth, fb_)
    assert not ok(auth, fa) and not ok(auth, fb_)
    assert auth.stats["replay"] == 2


def test_forged_huge_counter_then_a_restarted_gateway_gets_back_in_by_the_challenge() -> None:
    auth, running = board_auth(), gw(1000)
    assert ok(auth, probe(running))
    assert ok(auth, probe(gw(0xFFFFFFFF)))  # a holder of the board's key, counter 2^64 - ...
    assert ok(auth, infer(running))  # the running gateway is not locked out
    restarted = gw(1001)
    assert not ok(auth, probe(restarted, rid=77))  # older than the forged epoch: stale
    assert auth.stats["stale"] == 1 and auth.take_stale_probe() == 77
    nonce = auth.challenge_for(board_counter=(3 << 32) | 4)
    assert nonce == challenge_nonce((3 << 32) | 4)
    assert not ok(auth, infer(restarted, rid=nonce))  # only a PROBE answers the challenge
    assert ok(auth, probe(restarted, rid=nonce))
    assert auth.challenge == 0 and ok(auth, infer(restarted))


def test_a_recorded_answer_to_an_old_challenge_does_not_get_in() -> None:
    auth, old = board_auth(), gw(1000)
    assert ok(auth, probe(gw(2000)))
    assert not ok(auth, probe(old, rid=1))
    nonce = auth.challenge_for(10)
    answer = probe(old, rid=nonce)
    assert ok(auth, answer) and not ok(auth, answer)  # a replay of it is a replay
    auth.challenge_for(11)  # a new challenge: the old nonce no longer opens anything
    assert not ok(auth, probe(gw(999), rid=nonce))


def test_least_recently_used_sender_is_forgotten_and_must_be_challenged() -> None:
    auth, first = board_auth(), gw(100)
    assert ok(auth, probe(first))
    for e in range(101, 101 + MAX_STREAMS):  # eight newer one-shot senders
        assert ok(auth, probe(gw(e)))
    assert len(auth.windows) == MAX_STREAMS
    assert not ok(auth, infer(first))  # its window was evicted, and it is older: stale


def test_the_running_gateway_survives_a_crowd_of_probes() -> None:
    auth, running = board_auth(), gw(100)
    assert ok(auth, probe(running))
    for e in range(101, 101 + 3 * MAX_STREAMS):
        assert ok(auth, probe(gw(e))) and ok(auth, infer(running))
    assert auth.stats["stale"] == 0


def sender_walk(rng: random.Random, n: int) -> list[bytes]:
    """Frames to one board from gateway-side senders that come and go (newer and older
    epochs, forged huge ones, replays) answering the board's challenges as a sender would."""
    auth, senders, frames, challenges = board_auth(), [gw(1000)], [], 0
    for _ in range(n):
        r = rng.random()
        if r < 0.1:
            senders.append(
                gw(
                    rng.choice(
                        [
                            1000 + len(senders) * 3,
                            0xFFFFFFFF - rng.randint(0, 3),
                            rng.randint(900, 1100),
                        ]
                    )
                )
            )
        tx = rng.choice(senders)
        if r < 0.15 and frames:
            f = rng.choice(frames)
        elif r < 0.5:
            f = probe(tx, rng.getrandbits(32))
        else:
            f = infer(tx, rng.getrandbits(32))
        frames.append(f)
        ok(auth, f)
        if auth.take_stale_probe() is not None:
            challenges += 1
            nonce = auth.challenge_for(challenges)
            if rng.random() < 0.7:
                frames.append(probe(tx, nonce))
                ok(auth, frames[-1])
    return frames


def test_c_board_accepts_and_challenges_the_same_senders_as_python(harness: Path) -> None:
    frames = sender_walk(random.Random(24), 400)
    auth, py, challenges = board_auth(), [], 0
    for f in frames:
        py += [
            f"OK {int(x.msg_type)} {x.board_id} {x.request_id} {x.counter}"
            for x in StreamDecoder(auth).feed(to_serial(f))
        ]
        if (rid := auth.take_stale_probe()) is not None:
            challenges += 1
            py.append(f"CHALLENGE {rid} {auth.challenge_for(challenges)}")
    wire = b"".join(to_serial(f) for f in frames).hex()
    lines = run_harness(
        harness,
        ["stream", KEY.hex(), "b"],
        "\n".join(wire[i : i + 1000] for i in range(0, len(wire), 1000)) + "\n",
    )
    assert lines[:-1] == py
    c_stats = {k: int(v) for k, v in (kv.split("=") for kv in lines[-1].split()[1:])}
    assert c_stats == auth.stats
    assert auth.stats["stale"] > 10 and auth.stats["replay"] > 10 and challenges > 10
