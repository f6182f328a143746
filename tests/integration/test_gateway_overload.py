"""Honest overload on the UDP front end: bounded parsing, ``busy`` answers, nothing lost.

Boards are in-process ``BoardServer`` threads with the fake runner (as in test_gateway_faults);
the gateway runs its own event loop in a thread, the load client runs in the test's.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "boards"))

from board_helpers import FakeBoards, four_boards, make_fake_run, write_deployment
from test_gateway_faults import _ports

from vp_edge.gateway.core import Gateway
from vp_edge.gateway.front import FrontEnd, Limits, json_depth
from vp_edge.gateway.loadtest import run_rate
from vp_edge.gateway.udp_server import serve_udp

MARGIN = 0.05


def png(w: int, h: int, seed: int = 0) -> bytes:
    from PIL import Image

    a = (
        np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)
        if w * h < 1e5
        else np.zeros((h, w), np.uint8)
    )
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def body(image: bytes, req_id: object = 1) -> bytes:
    return json.dumps({"v": 1, "id": req_id, "image": base64.b64encode(image).decode()}).encode()


@pytest.fixture
def dep(tmp_path: Path):
    return write_deployment(tmp_path, make_fake_run(tmp_path), four_boards(_ports(2)))


class GatewayThread:
    """A gateway serving udp:// in its own thread and event loop."""

    def __init__(self, dep, limits: Limits | None = None) -> None:
        self.url = f"udp://127.0.0.1:{_ports(1)[0]}"
        self.ready, self.stats, self.gw = threading.Event(), None, None
        self.thread = threading.Thread(target=asyncio.run, args=(self._main(dep, limits),))
        self.thread.start()
        assert self.ready.wait(10)

    async def _main(self, dep, limits) -> None:
        self.gw = Gateway(dep)
        await self.gw.start(hello_timeout=3.0)
        self.loop, self.stop = asyncio.get_running_loop(), asyncio.Event()
        self.loop.call_later(0.1, self.ready.set)
        try:
            self.stats = await serve_udp(self.gw, self.url, self.stop, limits=limits)
        finally:
            await self.gw.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)


def test_json_depth_counts_without_parsing():
    assert json_depth(b'{"a": [1, {"b": "[[[[{{"}]}') == 3
    assert json_depth(b"[" * 1000 + b"]" * 1000) == 1000


def test_bad_requests_get_one_error_each(dep):
    """Depth 1000, oversize, huge image header, garbage: one error each, the loop unharmed."""
    gw = Gateway(dep)  # no boards started: parsing is answered before any board is asked
    front = FrontEnd(gw)

    async def ask(data: bytes) -> dict:
        return await front.handle(data)

    deep = b'{"v": 1, "id": 7, "image": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    cases = {
        "deep": (deep, "bad_request"),
        "big": (b"x" * 70_000, "too_large"),
        "pixels": (body(png(3000, 2000)), "too_large"),
        "garbage": (b"\xff\x00{", "bad_request"),
        "no image": (b'{"v": 1, "id": 3}', "bad_request"),
        "not an image": (body(b"GIF89a not really"), "bad_request"),
    }
    for what, (data, code) in cases.items():
        reply = asyncio.run(ask(data))
        assert reply["ok"] is False and reply["code"] == code, (what, reply)
    assert front.stats.received == len(cases)
    assert sum(front.stats.outcomes.values()) == len(cases)
    front.close()


def test_rising_rates_every_request_answered_once(dep):
    boards = FakeBoards(dep)
    for name in ("pi1", "pi2", "m3", "m4"):
        boards.start(name, delay_s=0.02)  # at most 4 in flight: about 200 requests/s at best
    server = GatewayThread(dep, Limits(max_inflight=4, max_queue=8))
    images = [png(28, 28, s) for s in range(4)]
    try:
        rows = [
            run_rate(server.url, images, rate, n, dep.deadline_s + 1.0, f"r{rate}")
            for rate, n in ((20, 10), (400, 120))
        ]
    finally:
        server.close()
        boards.stop()
    for row in rows:
        assert row["lost"] == 0 and row["duplicates"] == 0 and row["garbled"] == 0, row
        assert row["answered"] + row["busy"] + row["errors"] == row["sent"], row
        # the gateway's own clock (arrival to reply): the client shares this process's GIL
        # with the gateway and four boards, so its stamps also carry their scheduling
        assert row["gateway_p99_ms"] is not None
        assert row["gateway_p99_ms"] <= (dep.deadline_s + MARGIN) * 1000, row
    assert rows[0]["answered"] == rows[0]["sent"]  # a light load is answered in full
    assert rows[1]["busy"] > 0  # the heavy burst is shed explicitly, not dropped
    assert server.stats.received == sum(r["sent"] for r in rows)
    # the gateway's own overload is not held against the boards
    assert all(b.up for b in server.gw.boards.values())
