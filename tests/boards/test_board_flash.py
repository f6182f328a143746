"""`vp-edge flash` against the Python boards: a linux board daemon over UDP accepts the same
verified LOAD session as the firmware, serves the new model, and keeps the old one on a bad one.
"""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from key_attack import assert_refused, load_attack

import firmware_bridge as fb
from boards.daemon import BoardOptions, build_server
from boards.server import serve_in_thread
from firmware_bridge.flash import FlashError, FlashVerifyError, flash

pytestmark = pytest.mark.slow
KEY = bytes(range(32))
BOARD = 7


def _port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_EPOCHS = iter(range(int(time.time()) + 10_000, 2**32))  # above the flash tool's epochs


def _hello(url: str) -> fb.Hello:
    """Ask the board for HELLO as a gateway would (a fresh, higher epoch each time)."""
    host, port = url.removeprefix("udp://").split(":")
    auth = fb.Auth(KEY, {BOARD})
    tx = fb.Sender(KEY, fb.Counter(next(_EPOCHS)), from_gateway=True)
    deadline = time.monotonic() + 5
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1)
        s.sendto(tx.frame(fb.Probe(fb.MsgType.HELLO), 1, board_id=BOARD), (host, int(port)))
        while time.monotonic() < deadline:
            f = fb.decode_datagram(s.recv(2048), auth)
            if f is not None and isinstance(f.msg, fb.Hello):
                return f.msg
    raise AssertionError(f"no HELLO from {url}")


@pytest.fixture
def board(tiny_run: Path, tmp_path: Path):
    url = f"udp://127.0.0.1:{_port()}"
    opts = BoardOptions(
        tiny_run / "models" / "t16.tflite", url, BOARD, KEY, model_dir=tmp_path / "slots"
    )
    server = build_server(opts)
    thread = serve_in_thread(server)
    yield url, server, opts, thread
    server.close()
    thread.join(2)


def test_flash_replaces_the_model_and_survives_restart(board, tiny_run: Path, tmp_path: Path):
    url, server, opts, thread = board
    new = (tiny_run / "models" / "t24.tflite").read_bytes()
    serving = server.cfg.model_sha256.hex()  # started with --model t16, no slot yet
    rep = flash(url, new, board_id=BOARD, key=KEY, epoch_file=tmp_path / "gw.epoch")
    assert rep.activated and rep.verified
    assert (
        rep.previous_sha256
        == serving
        == hashlib.sha256((tiny_run / "models" / "t16.tflite").read_bytes()).hexdigest()
    )
    assert _hello(url).model_sha256.hex() == rep.sha256
    x = np.zeros(server.runner.input_shape, np.int8)
    assert server.runner.run(x).shape == (10,)
    server.close()
    thread.join(2)
    again = build_server(opts)  # a restart serves the flashed slot, not --model
    assert again.cfg.model_sha256.hex() == rep.sha256
    again.close()


@pytest.mark.parametrize("fault", ["wrong_key", "wrong_board", "not_a_model"])
def test_bad_artefacts_keep_the_old_model(board, tiny_run: Path, tmp_path: Path, fault: str):
    url, server, _, _ = board
    before = server.cfg.model_sha256
    blob = (tiny_run / "models" / "t24.tflite").read_bytes()
    key, board_id = KEY, BOARD
    if fault == "wrong_key":
        key = bytes(32)
    elif fault == "wrong_board":
        board_id = BOARD + 1
    else:
        blob = b"TFL3" * 64  # verified in transit, but it does not load: refused at commit
    with pytest.raises((FlashError, FlashVerifyError, fb.BridgeError)):
        flash(
            url,
            blob,
            board_id=board_id,
            key=key,
            epoch_file=tmp_path / "gw.epoch",
            timeout=0.3,
            tries=2,
        )
    assert server.cfg.model_sha256 == before
    assert _hello(url).model_sha256 == before


def test_board1_key_cannot_load_board2(tiny_run: Path, tmp_path: Path, capsys) -> None:
    """Per-board keys on the linux board daemon: board 1's key gets no LOAD session into 2."""
    master = bytes(range(100, 132))
    k1, k2 = fb.derive_board_key(master, 1), fb.derive_board_key(master, 2)
    url = f"udp://127.0.0.1:{_port()}"
    opts = BoardOptions(
        tiny_run / "models" / "t16.tflite", url, 2, k2, model_dir=tmp_path / "slots"
    )
    server = build_server(opts)
    thread = serve_in_thread(server)
    try:
        counts = load_attack(
            url,
            victim_id=2,
            victim_key=k2,
            attacker_id=1,
            attacker_key=k1,
            artifact=(tiny_run / "models" / "t24.tflite").read_bytes(),
            epoch_file=tmp_path / "gw.epoch",
            gap_s=0.002,
        )
        assert server.loader is not None and server.loader.active_path is None
        assert server.auth.stats["bad_tag"] == counts["frames_sent"]
    finally:
        server.close()
        thread.join(2)
    with capsys.disabled():
        print(f"\n[per-board keys, linux board] board 1's key against board 2: {counts}")
    assert_refused(counts)
