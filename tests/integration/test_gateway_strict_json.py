"""Replies are strict JSON (RFC 8259) whatever the request's id: a client's parser that refuses
NaN and Infinity must read every reply of the UDP front end (the MQTT one writes the same
``reply_bytes``); an image that is no image is named as such, never as a Python object."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "boards"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from board_helpers import FakeBoards, four_boards, make_fake_run, write_deployment
from test_gateway_faults import _ports
from test_gateway_overload import GatewayThread, body, png

from vp_edge.cli import main
from vp_edge.gateway.front import reply_bytes


def strict(data: bytes) -> dict:
    def refuse(name: str) -> None:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(data, parse_constant=refuse)


def ask(url: str, data: bytes) -> dict:
    host, port = url.removeprefix("udp://").split(":")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(data, (host, int(port)))
        return strict(s.recv(65536))


@pytest.fixture
def served(tmp_path: Path):
    dep = write_deployment(tmp_path, make_fake_run(tmp_path), four_boards(_ports(2)))
    boards = FakeBoards(dep)
    for name in ("pi1", "pi2", "m3", "m4"):
        boards.start(name)
    server = GatewayThread(dep)
    yield server
    server.close()
    boards.stop()


def test_ids_that_are_not_finite_numbers_are_refused_in_strict_json(served):
    image = png(28, 28)
    image_b64 = body(image).split(b'"image": ')[1]
    for raw_id in (b"1e999", b"-1e999", b"NaN", b"Infinity", b"-Infinity"):
        reply = ask(served.url, b'{"v": 1, "id": ' + raw_id + b', "image": ' + image_b64)
        assert reply["ok"] is False and reply["code"] == "bad_request", (raw_id, reply)
        assert reply["id"] is None
    for good in ("1e999", 7, 2.5, None):  # a string, an int, a finite float echo back as sent
        reply = ask(served.url, body(image, good))
        assert reply["ok"] is True and reply["id"] == good, reply


def test_an_image_that_is_none_is_named_as_such(served, tmp_path, capsys):
    reply = ask(served.url, body(b"hello, not an image"))
    assert reply["ok"] is False and "not a PNG, JPEG or BMP" in reply["error"]
    assert "BytesIO" not in reply["error"]
    text = tmp_path / "notes.png"
    text.write_text("hello, not an image")
    assert main(["classify", "--gateway", served.url, str(text)]) == 2
    err = capsys.readouterr().err
    assert f"{text} is not a PNG, JPEG or BMP file" in err and err.count("\n") == 1


def test_a_reply_that_cannot_be_strict_json_becomes_an_internal_error():
    reply = strict(reply_bytes({"v": 1, "id": 3, "ok": True, "latency_ms": float("nan")}))
    assert reply == {
        "v": 1,
        "id": 3,
        "ok": False,
        "code": "internal",
        "error": "internal error: reply not JSON",
    }
