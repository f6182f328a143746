"""The flash loader takes a late ACK of a resent chunk for what it is, not for a refusal."""

from __future__ import annotations

from types import SimpleNamespace

from firmware_bridge.flash import _Loader
from firmware_bridge.protocol import LoadAck, MsgType, Status


class StaleAcks:
    """A board whose every ACK comes one late: each chunk's reply is first the ACK of the
    previous chunk's resend, then its own (as a slow board gives after one resend)."""

    tries, timeout, resends = 5, 0.01, 0

    def __init__(self, size: int) -> None:
        self.size, self.queue = size, []

    def request(self, msg, types, request_id=None, timeout=None):
        off = msg.offset
        stale = LoadAck(MsgType.LOAD_CHUNK, Status.OK, off)  # the earlier copy's ACK
        self.queue.append(LoadAck(MsgType.LOAD_CHUNK, Status.OK, off + len(msg.data)))
        return SimpleNamespace(msg=stale if off else self.queue.pop(0))

    def wait(self, request_id, types, timeout):
        return SimpleNamespace(msg=self.queue.pop(0)) if self.queue else None


def test_late_acks_of_resent_chunks_do_not_fail_the_flash() -> None:
    art = bytes(range(256)) * 4
    s = StaleAcks(100)
    seen = []
    chunks = _Loader(s, 1.0).send_all(art, 100, seen.append)
    assert chunks == 11 and sum(seen) == len(art) and s.resends == 0
