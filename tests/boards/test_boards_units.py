"""Links, profiles, registries, the board server and deployment files (no TensorFlow)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from board_helpers import KEY, FakeRunner, make_fake_run, write_deployment
from hypothesis import given, settings
from hypothesis import strategies as st

import firmware_bridge as fb
from boards.profiles import PROFILES, check_fit, get_profile
from boards.registry import BOARDS, get_kind
from boards.runners import RUNNERS, make_runner
from boards.server import BoardConfig, BoardServer, result_pairs, serve_in_thread
from firmware_bridge.transport import LinkError, ThrottledLink, open_link, parse_link
from vp_edge.errors import BoardError, DeploymentError
from vp_edge.gateway.core import vote_boards
from vp_edge.vote import topk_indices


@pytest.mark.parametrize(
    "url",
    [
        "tcp://x:1",
        "udp://host",
        "udp://h:1/path",
        "udp://h:1?x=1",
        "serial://",
        "serial:///dev/ttyS0?speed=9",
        "pty://",
        "serial:///dev/ttyS0?baud=fast",
    ],
)
def test_bad_links_quote_the_expected_form(url: str) -> None:
    with pytest.raises(LinkError, match="expected|option|baud"):
        parse_link(url)


def test_good_links_parse() -> None:
    assert parse_link("udp://127.0.0.1:5601").port == 5601
    assert parse_link("serial:///dev/ttyUSB0?baud=921600").baud == 921600
    assert parse_link("pty://m4-1").path == "m4-1"
    assert parse_link("socket://localhost:7000").framing == "stream"


def test_loop_url_goes_through_pyserial() -> None:
    link = open_link("loop://?baud=9600")
    link.send(b"abc\x00")
    assert link.recv(0.2) == b"abc\x00"
    link.close()


def test_pty_link_is_throttled_to_the_baud_rate(tmp_path: Path) -> None:
    board = ThrottledLink(open_link("pty://b", server=True, pty_dir=tmp_path), 115200)
    gw = open_link("pty://b", pty_dir=tmp_path, wait_s=1.0)
    data = bytes(range(1, 256)) * 4 + b"\x00"  # 1021 bytes: 88.6 ms at 115200 baud
    t0 = time.monotonic()
    board.send(data)
    got = b""
    while len(got) < len(data):
        got += gw.recv(0.5)
    assert got == data and time.monotonic() - t0 >= 0.085
    gw.send(data)
    t0 = time.monotonic()
    got = b""
    while len(got) < len(data):
        got += board.recv(0.5)
    assert time.monotonic() - t0 >= 0.085
    gw.close()
    board.close()


def test_registries_list_known_names() -> None:
    assert {"linux", "mcu"} <= set(BOARDS) and {"litert", "tflm", "engine"} <= set(RUNNERS)
    with pytest.raises(BoardError, match="known: linux, mcu"):
        get_kind("fpga9000")
    with pytest.raises(BoardError, match="known: litert"):
        make_runner("onnx", b"")
    with pytest.raises(BoardError, match="known: cortex-m4"):
        get_profile("z80")
    assert {"cortex-m4", "esp32-s3", "rp2040", "raspberry-pi-4", "pynq-z2"} <= set(PROFILES)


def test_variant_that_does_not_fit_is_refused_with_numbers() -> None:
    m4 = PROFILES["cortex-m4"]
    with pytest.raises(BoardError, match=r"300,000 bytes.*229,376"):
        check_fit(m4, "big", 300_000, 1000)
    with pytest.raises(BoardError, match="flash"):
        check_fit(m4, "big", 1000, 2 << 20)
    check_fit(m4, "ok", 72_272, 447_664)


@given(st.lists(st.integers(-128, 127), min_size=10, max_size=10), st.integers(1, 5))
def test_result_pairs_follow_topk_indices(values: list[int], k: int) -> None:
    q = np.array(values, np.int8)
    pairs = result_pairs(q, k)
    assert [c for c, _ in pairs] == list(topk_indices(q, k))
    assert [s for _, s in pairs] == sorted((s for _, s in pairs), reverse=True)


@settings(max_examples=50, deadline=None)
@given(st.permutations([1, 2, 3, 4]), st.lists(st.integers(-128, 127), min_size=20, max_size=20))
def test_vote_boards_ignores_arrival_order(order: list[int], raw: list[int]) -> None:
    cards = {v: {"output_scale": 1 / 256, "output_zero_point": -128} for v in ("a", "b")}
    res = {f"b{i}": (i, "a" if i % 2 else "b", ((i, raw[i]), (i + 4, raw[i + 8]))) for i in order}
    one = vote_boards(res, cards, 10, "reference", {"a": 1.0, "b": 0.5})
    two = vote_boards(
        dict(reversed(list(res.items()))), cards, 10, "reference", {"a": 1.0, "b": 0.5}
    )
    assert one == two and one[1] == ("b1", "b2")  # lowest id speaks for each variant


def _server(tmp_path: Path, key: bytes | None = KEY) -> tuple[BoardServer, object]:
    link = open_link("udp://127.0.0.1:0", server=True)
    cfg = BoardConfig(7, "t16", 2, key, heartbeat_s=0.2, reasm_timeout_s=0.2)
    server = BoardServer(link, FakeRunner(b"t16"), cfg)
    serve_in_thread(server)
    port = link.address[1]
    return server, open_link(f"udp://127.0.0.1:{port}")


def _ask(client, tx: fb.Sender, msgs: list, rid: int, want: type, auth: fb.Auth):
    for m in msgs:
        client.send(tx.frame(m, rid, board_id=7))
    end = time.monotonic() + 2
    while time.monotonic() < end:
        f = fb.decode_datagram(client.recv(0.2) or b"\x00", auth)
        if f is not None and isinstance(f.msg, want) and f.request_id == rid:
            return f.msg
    raise AssertionError(f"no {want.__name__}")


def test_board_server_speaks_the_protocol(tmp_path: Path) -> None:
    server, client = _server(tmp_path)
    tx, auth = fb.Sender(KEY, fb.Counter(1), from_gateway=True), fb.Auth(KEY, {7})
    try:
        hello = _ask(client, tx, [fb.Probe(fb.MsgType.HELLO)], 1, fb.Hello, auth)
        assert (hello.k, hello.input_bytes, hello.variant) == (2, 784, "t16")
        x = np.arange(784, dtype=np.int64).astype(np.int8)
        res = _ask(client, tx, fb.split_infer(x.tobytes(), max_frame=300), 2, fb.Result, auth)
        assert res.pairs == result_pairs(FakeRunner(b"t16").run(x), 2)
        err = _ask(client, tx, fb.split_infer(b"\x01" * 10), 3, fb.Error, auth)
        assert err.status == fb.Status.BAD_INPUT_SIZE and err.detail == 784
        err = _ask(client, tx, fb.split_infer(x.tobytes(), max_frame=300)[:1], 4, fb.Error, auth)
        assert err.status == fb.Status.REASSEMBLY_TIMEOUT
        err = _ask(client, tx, [fb.Readback(0xFF)], 5, fb.Error, auth)
        assert err.status == fb.Status.UNSUPPORTED
        _ask(client, tx, [fb.Probe(fb.MsgType.HEARTBEAT)], 6, fb.Heartbeat, auth)
        insecure = fb.Sender(None, fb.Counter(9), from_gateway=True)
        client.send(insecure.frame(fb.Probe(fb.MsgType.HELLO), 8, board_id=7))
        time.sleep(0.2)
        assert server.auth.stats["insecure"] == 1
    finally:
        server.close()
        client.close()


def test_deployment_errors_name_the_key(tmp_path: Path) -> None:
    run = make_fake_run(tmp_path)
    good = {"id": 1, "name": "a", "kind": "linux", "link": "udp://127.0.0.1:9", "variant": "t16"}
    cases = [
        ([{**good, "link": "serial:///dev/ttyS0"}], {}, r"boards\[0\]\.link: a linux board"),
        ([good, {**good, "name": "b", "link": "tcp://x"}], {}, r"boards\[1\]\.link: .*expected"),
        ([good, {**good, "name": "b"}], {}, r"boards\[1\]\.id: 1 repeats"),
        ([{**good, "kind": "fpga"}], {}, r"boards\[0\]\.kind: unknown kind .*linux, mcu"),
        ([{**good, "variant": "t99"}], {}, r"boards\[0\]\.variant"),
        ([{**good, "colour": "red"}], {}, r"boards\[0\]\.colour: unknown key"),
        ([good], {"k": 9}, r": k: "),
        ([good], {"rule": "learned"}, r"rule: "),
        ([good], {"deadline_ms": 0}, r"deadline_ms: must be > 0"),
        ([good], {"key": "abcd"}, r"key: key is 2 bytes"),
        ([{**good, "profile": "z80"}], {}, r"boards\[0\]\.profile: unknown profile"),
    ]
    for boards, top, pattern in cases:
        with pytest.raises(DeploymentError, match=pattern):
            write_deployment(tmp_path, run, boards, **top)
    tight = {**good, "kind": "mcu", "link": "pty://m", "profile": "cortex-m4"}
    card = run / "models" / "t16.json"
    card.write_text(card.read_text().replace('"arena_bytes": 50000', '"arena_bytes": 900000'))
    with pytest.raises(DeploymentError, match=r"boards\[0\]\.profile: .*900,000"):
        write_deployment(tmp_path, run, [tight])


def test_serial_link_errors_become_link_errors_when_the_pty_vanishes():
    """A killed emulator closes its pty; reading (which first reconfigures the port's timeout)
    must raise LinkError, which the gateway's reader handles by reopening, not a bare
    SerialException that would end the reader thread."""
    import os

    master, slave = os.openpty()
    link = open_link(f"serial://{os.ttyname(slave)}")
    os.close(slave)
    os.close(master)
    with pytest.raises(LinkError):
        for _ in range(3):
            link.recv(0.01)
    link.close()


def test_infer_failure_is_logged_and_answered(caplog) -> None:
    class Broken(FakeRunner):
        def run(self, x):
            raise RuntimeError("arena exhausted")

    class Sink:
        framing, sent = "datagram", []

        def send(self, data: bytes) -> None:
            self.sent.append(data)

    link = Sink()
    server = BoardServer(link, Broken(b"t16"), BoardConfig(7, "t16", 2, KEY))
    with caplog.at_level("ERROR", logger="boards.server"):
        server.infer(bytes(784), 0x1234)
    assert "INFER 0x00001234 failed" in caplog.text and "arena exhausted" in caplog.text
    frame = fb.decode_datagram(link.sent[-1], fb.Auth(KEY, {7}))
    assert frame.msg.status == fb.Status.INFER_FAILED


def test_runner_stages_default_to_one_and_bundles_go_to_the_staged_runner() -> None:
    from boards.runners import is_bundle, make_runner, runner_for

    r = FakeRunner(b"t16")
    x = np.arange(784, dtype=np.int64).astype(np.int8)
    assert r.stages == 1 and r.stage_input_bytes(0) == 784
    assert np.array_equal(r.run_stage(5, 0, x), r.run(x))
    with pytest.raises(BoardError, match="stages 0..0, not 1"):
        r.run_stage(5, 1, x)
    bundle = b"PK\x03\x04" + bytes(30)
    assert is_bundle(bundle) and runner_for("litert", bundle) == "staged"
    assert runner_for("tflm", b"xxxxTFL3") == "tflm"
    with pytest.raises(BoardError, match="C engine"):
        make_runner("engine", bundle)


def test_tensor_board_answers_tensor_and_refuses_a_stage_it_lacks(tmp_path: Path) -> None:
    server, client = _server(tmp_path)
    server.cfg.k, server.cfg.max_frame = 0, 60  # tensor mode: 10 outputs in 12-byte chunks
    tx, auth = fb.Sender(KEY, fb.Counter(1), from_gateway=True), fb.Auth(KEY, {7})
    try:
        hello = _ask(client, tx, [fb.Probe(fb.MsgType.HELLO)], 1, fb.Hello, auth)
        assert hello.k == 0
        x = np.arange(784, dtype=np.int64).astype(np.int8)
        for m in fb.split_infer(x.tobytes(), max_frame=60):  # the board's receive budget
            client.send(tx.frame(m, 2, board_id=7))
        reasm, out, end = fb.Reassembler(), None, time.monotonic() + 2
        while out is None and time.monotonic() < end:
            f = fb.decode_datagram(client.recv(0.2) or b"\x00", auth)
            if f is not None and isinstance(f.msg, fb.Tensor):
                assert f.msg.chunk_count == 1 or len(f.msg.data) <= 60 - 48
                out = reasm.add_frame(f)
        assert out == FakeRunner(b"t16").run(x).tobytes()
        stage1 = fb.split_infer_stage(x.tobytes(), 1, max_frame=60)
        err = _ask(client, tx, stage1, 3, fb.Error, auth)
        assert (err.status, err.detail) == (fb.Status.BAD_INPUT_SIZE, 0)
    finally:
        server.close()
        client.close()


def test_deployment_strategy_key(tmp_path: Path) -> None:
    run = make_fake_run(tmp_path)
    board = [
        {"id": 1, "name": "pi1", "kind": "linux", "link": "udp://127.0.0.1:5999", "variant": "t16"}
    ]
    assert write_deployment(tmp_path, run, board).strategy == "vp"
    with pytest.raises(DeploymentError, match=r"strategy: unknown strategy 'xp'; known: vp, mp"):
        write_deployment(tmp_path, run, board, strategy="xp")


def test_strategy_boards_get_their_part_and_k(tmp_path: Path, monkeypatch) -> None:
    """Emulation serves a part's artefact with the part's k (0: TENSOR); a card's reply wins."""
    from types import SimpleNamespace

    from boards.daemon import board_k
    from boards.emulation import board_argv
    from vp_edge.deployment import Deployment

    run = make_fake_run(tmp_path)
    board = [
        {
            "id": 1,
            "name": "pi1",
            "kind": "linux",
            "link": "udp://127.0.0.1:5999",
            "variant": "part0",
        }
    ]
    monkeypatch.setattr("vp_edge.deployment._check_parts", lambda dep, where: None)
    dep = write_deployment(tmp_path, run, board, strategy="mp")
    part = SimpleNamespace(name="part0", artefact=tmp_path / "p0.tflite", reply="tensor", k=0)
    monkeypatch.setattr(Deployment, "part", lambda self, b: part)
    argv = board_argv(dep, dep.boards[0], None)
    assert argv[argv.index("--model") + 1] == str(part.artefact)
    assert argv[argv.index("--k") + 1] == "0"
    assert board_k(2, {"reply": "tensor"}, 10) == 0
    assert board_k(2, {"reply": "scores"}, 10) == 10 and board_k(3, {}, 10) == 3
