"""The PYNQ board daemon (emulated: simulated device) answers the wire protocol over UDP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import firmware_bridge as fb
from boards.pynq import emulator_command
from boards.server import result_pairs
from firmware_bridge.engine import Engine

DATA = Path(__file__).resolve().parent.parent / "data"
BOARD = 7


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _recv(sock: socket.socket, auth: fb.Auth, want: fb.MsgType, timeout: float) -> fb.Frame:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        sock.settimeout(max(0.05, end - time.monotonic()))
        try:
            data = sock.recv(65536)
        except (TimeoutError, ConnectionRefusedError):
            continue
        frame = fb.decode_datagram(data, auth)
        if frame is not None and frame.msg_type == want:
            return frame
    raise AssertionError(f"no {want.name} within {timeout} s")


def test_emulated_pynq_board_answers_infer(tmp_path: Path) -> None:
    model = DATA / "tiny.vpw"
    key = bytes(range(32))
    (tmp_path / "key").write_text(key.hex())
    port = _free_port()
    argv = emulator_command(
        model, f"udp://127.0.0.1:{port}", BOARD, tmp_path / "key", k=3, python=sys.executable
    )
    proc = subprocess.Popen(
        argv, cwd=Path(__file__).resolve().parents[3], stderr=subprocess.PIPE, text=True
    )
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect(("127.0.0.1", port))
        tx = fb.Sender(key, fb.Counter(1), board_id=BOARD, from_gateway=True)
        auth = fb.Auth(key, {BOARD}, role="gateway")
        hello = None
        for _ in range(100):  # the daemon needs a moment to bind
            sock.send(tx.frame(fb.Probe(fb.MsgType.HELLO), 1))
            try:
                hello = _recv(sock, auth, fb.MsgType.HELLO, 0.1)
                break
            except AssertionError:
                assert proc.poll() is None, proc.stderr.read()
        assert hello is not None
        engine = Engine(model.read_bytes())
        assert hello.msg.board_kind == fb.BoardKind.PYNQ
        assert hello.msg.input_bytes == engine.info["input_size"]
        rng = np.random.default_rng(5)
        for rid in range(2, 7):
            x = rng.integers(-128, 128, hello.msg.input_bytes, dtype=np.int8)
            for chunk in fb.split_infer(x.tobytes()):
                sock.send(tx.frame(chunk, rid))
            res = _recv(sock, auth, fb.MsgType.RESULT, 5.0)
            assert res.request_id == rid
            assert res.msg.pairs == result_pairs(engine.run(x).reshape(-1), 3)
    finally:
        proc.terminate()
        proc.wait(10)
