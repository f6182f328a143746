"""LoadReceiver standalone: a minimal UDP board mounts it, `flash` drives it over udp://, and the
same fault rules as the MCU firmware hold (bad tag or self-test: old model stays; restart keeps
the verified active slot)."""

from __future__ import annotations

import hashlib
import socket
import threading
from pathlib import Path

import pytest
from fw_helpers import BOARD_ID, KEY

from firmware_bridge import Auth, BoardKind, Counter, Hello, Probe, Sender, decode_datagram
from firmware_bridge.flash import FlashVerifyError, flash
from firmware_bridge.load_receiver import LoadReceiver


class UdpBoard:
    """The mounting pattern a board server uses: accepted frame -> loader.handle -> reply."""

    def __init__(self, loader: LoadReceiver) -> None:
        self.loader = loader
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.url = f"udp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.auth = Auth(KEY, {BOARD_ID}, role="board")
        self.tx = Sender(KEY, Counter(1), board_id=BOARD_ID)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                data, addr = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            frame = decode_datagram(data, self.auth)
            if frame is None:
                continue
            if self.loader.handles(frame):
                reply = self.loader.handle(frame)
            elif isinstance(frame.msg, Probe):  # a board server answers PROBE itself
                sha = self.loader.active_sha256 or bytes(32)
                reply = Hello(BoardKind.LINUX, 5, 10, 0, sha, "udp-test")
            else:
                continue
            self.sock.sendto(self.tx.frame(reply, frame.request_id), addr)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def udp_board(tmp_path: Path):
    boards: list[UdpBoard] = []

    def start(**kw) -> UdpBoard:
        b = UdpBoard(LoadReceiver(tmp_path / "board", key=KEY, **kw))
        boards.append(b)
        return b

    yield start
    for b in boards:
        b.close()


def test_flash_over_udp_activates_and_persists(udp_board, models, epoch_file) -> None:
    activated: list[bytes] = []
    b = udp_board(on_activate=lambda path, sha: activated.append(sha))
    r1 = flash(b.url, models["old"], board_id=BOARD_ID, key=KEY, epoch_file=epoch_file)
    r2 = flash(b.url, models["new"], board_id=BOARD_ID, key=KEY, epoch_file=epoch_file)
    assert r1.verified and r2.verified and r2.slot == 1 - r1.slot
    assert activated == [hashlib.sha256(models[m]).digest() for m in ("old", "new")]
    assert b.loader.active_path.read_bytes() == models["new"]
    b.close()
    again = LoadReceiver(b.loader.dir, key=KEY)  # restart: the verified active slot
    assert again.active_sha256 == hashlib.sha256(models["new"]).digest()


def test_bad_tag_and_self_test_keep_old(udp_board, models, epoch_file) -> None:
    b = udp_board()
    flash(b.url, models["old"], board_id=BOARD_ID, key=KEY, epoch_file=epoch_file)
    bad = bytearray(models["new"])
    bad[-1] ^= 1
    with pytest.raises(FlashVerifyError, match="INFER_FAILED"):
        flash(b.url, bytes(bad), board_id=BOARD_ID, key=KEY, epoch_file=epoch_file)
    import firmware_bridge.flash as fl

    real = fl.artifact_tag
    fl.artifact_tag = lambda key, a: real(b"other key", a)
    try:
        with pytest.raises(FlashVerifyError, match="LOAD_BAD_TAG"):
            flash(b.url, models["new"], board_id=BOARD_ID, key=KEY, epoch_file=epoch_file)
    finally:
        fl.artifact_tag = real
    assert b.loader.active_path.read_bytes() == models["old"]


def test_corrupted_active_file_falls_back(udp_board, models, epoch_file) -> None:
    b = udp_board()
    flash(b.url, models["old"], board_id=BOARD_ID, key=KEY, epoch_file=epoch_file)
    flash(b.url, models["new"], board_id=BOARD_ID, key=KEY, epoch_file=epoch_file)
    b.close()
    p = b.loader.active_path
    p.write_bytes(p.read_bytes()[:-1] + b"\x00")
    again = LoadReceiver(b.loader.dir, key=KEY)
    assert again.active_path.read_bytes() == models["old"]
