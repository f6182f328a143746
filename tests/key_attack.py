"""A party holding one board's key attacks another board (per-board keys, docs/protocol.md §4).

``load_attack`` sends whole LOAD sessions (LOAD_BEGIN with the artefact's HMAC under the key the
attacker holds, every LOAD_CHUNK, LOAD_COMMIT) to the victim's link, addressed both to the victim
and to the attacker's own board id, and measures what the victim did with them through its own
counters (HEARTBEAT ``rx_ok``/``rx_dropped``, asked with the genuine key) and READBACK. The same
code runs against the Python board server, the host firmware and the firmware in QEMU.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from pathlib import Path

from firmware_bridge import Counter, Heartbeat, LoadBegin, LoadChunk, LoadCommit, MsgType, Probe
from firmware_bridge.flash import chunk_size
from firmware_bridge.protocol.crc import crc32c
from firmware_bridge.protocol.session import BoardSession

_EPOCH = 0xFFFF_FF00  # above any genuine epoch: an accepted forged frame would also lock out


def _state(url: str, board_id: int, key: bytes, epoch_file: Path) -> tuple[Heartbeat, bytes, int]:
    """(heartbeat, active-slot hash, genuine frames sent) asked with the genuine key: READBACK,
    then the HEARTBEAT, so the heartbeat's ``rx_ok`` includes every genuine frame."""
    with BoardSession(
        url, board_id=board_id, key=key, epoch_file=epoch_file, timeout=1.0, tries=5
    ) as s:
        rb = s.readback()
        hb = s.request(Probe(MsgType.HEARTBEAT), (Heartbeat,)).msg
        return hb, rb.sha256, 2 + s.resends


def load_attack(
    url: str,
    *,
    victim_id: int,
    victim_key: bytes,
    attacker_id: int,
    attacker_key: bytes,
    artifact: bytes,
    epoch_file: Path,
    sessions: int = 2,
    gap_s: float = 0.01,
    settle_s: float = 0.0,
) -> dict[str, int]:
    """Try ``2 * sessions`` LOAD sessions on the victim; return counts of tried and accepted."""
    hb0, sha0, _ = _state(url, victim_id, victim_key, epoch_file)
    tag = hmac.new(attacker_key, artifact, hashlib.sha256).digest()
    sha = hashlib.sha256(artifact).digest()
    step = chunk_size(1200, True)
    frames = tried = replies = 0
    with BoardSession(
        url, board_id=victim_id, key=attacker_key, counter=Counter(_EPOCH), timeout=0.2, tries=1
    ) as atk:
        time.sleep(settle_s)  # QEMU's pty notices a new client on its ~1 s poll
        for n in range(sessions):
            for claimed in (victim_id, attacker_id):
                rid = random.randint(1, 0xFFFFFFFF)
                msgs = [LoadBegin(len(artifact), n % 2, sha, tag)]
                msgs += [
                    LoadChunk(o, crc32c(artifact[o : o + step]), artifact[o : o + step])
                    for o in range(0, len(artifact), step)
                ]
                msgs.append(LoadCommit(True))
                for m in msgs:
                    atk.link.send(atk.sender.frame(m, rid, board_id=claimed))
                    frames += 1
                    time.sleep(gap_s)
                tried += 1
        time.sleep(0.3)
        replies = len(atk.link.recv(0.3))  # frames the attacker's key could authenticate
    hb1, sha1, genuine = _state(url, victim_id, victim_key, epoch_file)
    return {
        "sessions_tried": tried,
        "frames_sent": frames,
        # accepted between the two heartbeats, less the genuine READBACK and PROBE (and resends)
        "frames_accepted": hb1.rx_ok - hb0.rx_ok - genuine,
        "frames_dropped": hb1.rx_dropped - hb0.rx_dropped,
        "replies_authenticated": replies,
        "sessions_accepted": int(sha1 != sha0),
    }


def assert_refused(counts: dict[str, int]) -> None:
    """Nothing of the attack was accepted, and the victim dropped every frame itself."""
    assert counts["frames_accepted"] == 0, counts
    assert counts["sessions_accepted"] == 0, counts
    assert counts["replies_authenticated"] == 0, counts
    assert counts["frames_dropped"] >= counts["frames_sent"], counts
