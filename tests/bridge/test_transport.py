"""The one transport layer: URL schemes map to handler modules; frames over any link."""

from __future__ import annotations

import sys
import types

import pytest

import firmware_bridge as fb
from firmware_bridge.transport import (
    SCHEMES,
    FrameLink,
    Link,
    LinkError,
    LinkSpec,
    open_link,
    parse_link,
    register_scheme,
)

KEY = b"transport test key 0123456789ab"


def test_a_bare_device_path_is_a_serial_link() -> None:
    spec = parse_link("/dev/ttyACM0")
    assert spec.scheme == "serial" and spec.path == "/dev/ttyACM0" and spec.framing == "stream"


def test_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(LinkError, match=r"unknown scheme 'coap'.*udp://") as e:
        parse_link("coap://broker/boards/1")
    assert e.value.exit_code == 3


def test_a_new_scheme_is_one_module(monkeypatch) -> None:
    """What a fleet's mqtt:// needs: a module with parse() and open(), registered by name."""
    mod = types.ModuleType("fake_mqtt_transport")

    class Echo(Link):
        framing = "datagram"

        def __init__(self, url: str) -> None:
            super().__init__(url)
            self.queue: list[bytes] = []

        def send(self, data: bytes) -> None:
            self.queue.append(data)

        def recv(self, timeout: float) -> bytes:
            return self.queue.pop(0) if self.queue else b""

    mod.parse = lambda url, parts, opts: LinkSpec(url, parts.scheme, parts.hostname or "")
    mod.open = lambda spec, **kw: Echo(spec.url)
    monkeypatch.setitem(sys.modules, "fake_mqtt_transport", mod)
    monkeypatch.setitem(SCHEMES, "mqtt", "fake_mqtt_transport")
    register_scheme("mqtt", "fake_mqtt_transport")
    link = FrameLink(open_link("mqtt://broker/boards/1"), fb.Auth(KEY, {1}, role="board"))
    tx = fb.Sender(KEY, fb.Counter(1), from_gateway=True)
    link.send(tx.frame(fb.Probe(fb.MsgType.HELLO), 5, board_id=1))
    (frame,) = link.recv(0.5)
    assert frame.request_id == 5 and isinstance(frame.msg, fb.Probe)


def test_frames_over_a_pyserial_loop_link() -> None:
    auth = fb.Auth(KEY, {2}, role="board")
    link = FrameLink(open_link("loop://", baud=9600), auth)
    tx = fb.Sender(KEY, fb.Counter(1), from_gateway=True)
    for rid in (1, 2):
        link.send(tx.frame(fb.Probe(fb.MsgType.HELLO), rid, board_id=2))
    got = link.recv(1.0)
    got += link.recv(0.5) if len(got) < 2 else []
    assert [f.request_id for f in got] == [1, 2]
    link.close()
