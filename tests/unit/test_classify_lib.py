"""``vp-edge classify``'s checks and its refusal of a not-ok reply, at the library level."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from vp_edge.errors import DataError, GatewayError, UsageError
from vp_edge.gateway.client import check_gateway_url, classify_file, read_image

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def test_gateway_url_schemes() -> None:
    for ok in ("udp://127.0.0.1:5000", "mqtt://broker:1883/dep"):
        check_gateway_url(ok)
    for bad in ("http://x:1", "nonsense"):
        with pytest.raises(UsageError, match="--gateway"):
            check_gateway_url(bad)


def test_image_checked_before_sending(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    assert read_image(tmp_path / "a.png") == PNG
    (tmp_path / "a.txt").write_text("hello there")
    with pytest.raises(DataError, match="is not a PNG, JPEG or BMP file"):
        read_image(tmp_path / "a.txt")
    with pytest.raises(DataError, match="cannot read"):
        read_image(tmp_path / "missing.png")


def _one_reply(reply: dict) -> tuple[str, threading.Thread]:
    """A UDP socket answering the first datagram with ``reply``."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))

    def serve() -> None:
        with s:
            _, peer = s.recvfrom(1 << 20)
            s.sendto(json.dumps(reply).encode(), peer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return f"udp://127.0.0.1:{s.getsockname()[1]}", t


def test_reply_not_ok_is_a_gateway_error(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    url, t = _one_reply({"ok": False, "error": "busy"})
    with pytest.raises(GatewayError, match="^gateway: busy$"):
        classify_file(url, tmp_path / "a.png", timeout=5.0)
    t.join(5)
    url, t = _one_reply({"ok": True, "winner": 3})
    assert classify_file(url, tmp_path / "a.png", timeout=5.0)["winner"] == 3
    t.join(5)
