"""A UDP board learns its peers from authenticated frames only, keeps answering every
gateway-side sender, and challenges an older one instead of locking it out (docs/protocol.md §4)."""

from __future__ import annotations

import socket
import time

import pytest
from board_helpers import FakeRunner

import firmware_bridge as fb
from boards.server import BoardConfig, BoardServer, serve_in_thread
from firmware_bridge.protocol.session import BoardSession
from firmware_bridge.transport import open_link

KEY = bytes(range(32))
BOARD = 7


@pytest.fixture
def board():
    link = open_link("udp://127.0.0.1:0", server=True)
    cfg = BoardConfig(BOARD, "t16", 3, KEY, heartbeat_s=0.1)
    server = BoardServer(link, FakeRunner(b"t16"), cfg)
    thread = serve_in_thread(server)
    yield f"udp://127.0.0.1:{link.address[1]}", server
    server.close()
    thread.join(2)


def _received(sock: socket.socket, seconds: float) -> list[bytes]:
    out, end = [], time.monotonic() + seconds
    sock.settimeout(0.05)
    while time.monotonic() < end:
        try:
            out.append(sock.recv(2048))
        except TimeoutError:
            pass
    return out


def _session(url: str, epoch: int) -> BoardSession:
    return BoardSession(url, board_id=BOARD, key=KEY, counter=fb.Counter(epoch), timeout=0.3)


def test_junk_and_forged_datagrams_get_no_heartbeats(board) -> None:
    url, _ = board
    addr = ("127.0.0.1", int(url.rsplit(":", 1)[1]))
    forged = fb.Sender(bytes(32), fb.Counter(5), board_id=BOARD, from_gateway=True)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as junk:
        junk.sendto(b"\x00", addr)
        junk.sendto(forged.frame(fb.Probe(fb.MsgType.HEARTBEAT), 3), addr)
        got = _received(junk, 0.5)
        assert got == []  # 0 heartbeats to an unauthenticated peer
        print(
            f"\n[udp peers] junk + forged datagram: {len(got)} frames sent to their sender "
            "in 0.5 s (heartbeat every 0.1 s)"
        )
    with _session(url, 100) as s:
        s.hello()
        beats = [f for f in s.link.recv(0.5) if isinstance(f.msg, fb.Heartbeat)]
        assert beats  # the authenticated peer does get them


def test_an_older_sender_is_challenged_then_served_and_the_newer_keeps_its_window(board) -> None:
    url, server = board
    with _session(url, 0xFFFFFFFF) as forged, _session(url, 1000) as restarted:
        forged.hello()  # a forged (or stale) huge epoch first
        assert restarted.hello().k == 3  # answered after one challenge, no board restart
        assert server.auth.stats["stale"] == 1
        assert restarted.infer(bytes(784)).TYPE == fb.MsgType.RESULT
        assert forged.infer(bytes(784)).TYPE == fb.MsgType.RESULT


def test_a_sender_heard_long_ago_still_gets_unsolicited_frames(monkeypatch) -> None:
    """A gateway idle for minutes, then a flash tool: the board's HELLO after the model switch
    (and its heartbeats) still reach the gateway, not only the flash tool that has gone."""
    from firmware_bridge.transport import udp

    board = open_link("udp://127.0.0.1:0", server=True)
    gateway = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flasher = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    clock = [1000.0]
    monkeypatch.setattr(udp.time, "monotonic", lambda: clock[0])
    try:
        for sender in (gateway, flasher):
            sender.settimeout(2.0)
            sender.sendto(b"authenticated", board.address)
            assert board.recv(2.0) == b"authenticated"
            board.confirm_peer()  # the frame passed the board's checks
            clock[0] += 600.0  # ten minutes without a request
        board.send_unsolicited(b"hello")
        assert gateway.recv(64) == b"hello"
        assert flasher.recv(64) == b"hello"
    finally:
        board.close()
        gateway.close()
        flasher.close()
