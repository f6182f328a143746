"""The board contract, as the gateway relies on it (docs/protocol.md): HELLO, HEARTBEAT, INFER ->
RESULT under the top-k rule, ERROR on a wrong input size, silence towards a wrong key.

Without options it runs against an emulated board (the board server on loopback UDP, a
deterministic fake model). With ``pytest tests/hil --link URL --board-id N --key-file K`` the
same tests run against a real board (marked ``hil``); see docs/hil.md.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "boards"))

from board_helpers import FakeRunner

import firmware_bridge as fb
from boards.server import BoardConfig, BoardServer, serve_in_thread
from firmware_bridge.errors import BridgeError
from firmware_bridge.protocol.session import BoardSession, BoardTimeout
from firmware_bridge.protocol.topk import result_pairs
from firmware_bridge.transport import open_link

MASTER = b"hil contract test master key 32b"


@dataclass
class Target:
    url: str
    board_id: int
    key: bytes | None
    runner: FakeRunner | None  # the emulated board's model, to predict its RESULTs
    real: bool


@pytest.fixture(scope="module")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    cfg = request.config
    link = cfg.getoption("--link")
    if link:
        key_file = cfg.getoption("--key-file")
        key = fb.read_key(key_file) if key_file else None
        yield Target(link, cfg.getoption("--board-id"), key, None, True)
        return
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key = fb.derive_board_key(MASTER, 5)
    runner = FakeRunner(b"contract")
    server = BoardServer(
        open_link(f"udp://127.0.0.1:{port}", server=True),
        runner,
        BoardConfig(5, "contract", 3, key, heartbeat_s=0.5),
    )
    thread = serve_in_thread(server)
    yield Target(f"udp://127.0.0.1:{port}", 5, key, runner, False)
    server.close()
    thread.join(2)


def session(t: Target, tmp_path: Path, key: bytes | None = None) -> BoardSession:
    return BoardSession(
        t.url,
        board_id=t.board_id,
        key=key or t.key,
        epoch_file=tmp_path / "gw.epoch",
        timeout=1.0,
        tries=3,
    )


def test_hello_describes_the_model(target: Target, tmp_path: Path) -> None:
    with session(target, tmp_path) as s:
        h = s.hello()
    assert 1 <= h.k <= fb.MAX_K and h.input_bytes > 0 and h.num_classes >= 2
    assert h.max_frame >= 64 and len(h.model_sha256) == 32


def test_heartbeat_counts_accepted_frames(target: Target, tmp_path: Path) -> None:
    with session(target, tmp_path) as s:
        hb = s.request(fb.Probe(fb.MsgType.HEARTBEAT), (fb.Heartbeat,)).msg
    assert isinstance(hb, fb.Heartbeat) and hb.rx_ok >= 1


def test_infer_answers_topk_under_the_protocol_rule(target: Target, tmp_path: Path) -> None:
    with session(target, tmp_path) as s:
        h = s.hello()
        x = np.random.default_rng(0).integers(-128, 128, h.input_bytes, dtype=np.int8)
        r = s.infer(x.tobytes())
    assert isinstance(r, fb.Result), r
    assert len(r.pairs) == h.k and all(0 <= c < h.num_classes for c, _ in r.pairs)
    assert [(-sc, c) for c, sc in r.pairs] == sorted((-sc, c) for c, sc in r.pairs)
    if target.runner is not None:
        assert r.pairs == result_pairs(target.runner.run(x), h.k)


def test_wrong_input_size_is_an_error(target: Target, tmp_path: Path) -> None:
    with session(target, tmp_path) as s:
        h = s.hello()
        r = s.infer(bytes(h.input_bytes + 1))
    assert isinstance(r, fb.Error) and r.status == fb.Status.BAD_INPUT_SIZE
    assert r.detail == h.input_bytes


def test_a_wrong_key_gets_no_answer(target: Target, tmp_path: Path) -> None:
    if target.key is None:
        pytest.skip("the board is insecure (no --key-file)")
    with session(target, tmp_path, key=b"not this board's key, 32 bytes!") as s:
        with pytest.raises((BoardTimeout, BridgeError)):
            s.tries = 2
            s.hello()
