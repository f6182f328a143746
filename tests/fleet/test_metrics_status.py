"""Gateway metrics (Prometheus text format) and the status page in a real headless Chromium."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from board_helpers import FakeBoards, four_boards, make_fake_run, write_deployment
from test_gateway_overload import _ports, png

from vp_edge.gateway.loadtest import run_rate
from vp_edge.gateway.serve import ServeOptions, serve


def tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(tmp_path: Path, refuse: str | None = None):
    """A gateway with --metrics over four fake boards, 12 requests sent through its UDP front;
    ``refuse``: that board runs another model (its HELLO's hash), so the gateway refuses it."""
    pytest.importorskip("prometheus_client", reason="prometheus-client not installed (fleet)")
    # a deadline with room for a loaded machine: these tests are about what the metrics and the
    # page show, not about misses (one missed board at 300 ms failed a run under load)
    dep = write_deployment(
        tmp_path, make_fake_run(tmp_path), four_boards(_ports(2)), deadline_ms=1000
    )
    boards = FakeBoards(dep)
    for n in ("pi1", "pi2", "m3", "m4"):
        boards.start(n, **({"model_sha256": bytes(32)} if n == refuse else {}))
    listen, metrics = f"udp://127.0.0.1:{_ports(1)[0]}", f"127.0.0.1:{tcp_port()}"
    ready, state = threading.Event(), {}

    async def main() -> None:
        state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
        state["report"] = await serve(
            dep, ServeOptions(listen, metrics=metrics), state["stop"], lambda gw: ready.set()
        )

    t = threading.Thread(target=asyncio.run, args=(main(),))
    t.start()
    try:
        assert ready.wait(15)
        row = run_rate(listen, [png(28, 28, s) for s in range(3)], 30, 12, 1.0)
        yield f"http://{metrics}", row, boards, listen, dep
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        t.join(10)
        boards.stop()


@pytest.fixture
def served(tmp_path):
    with serving(tmp_path) as s:
        yield s[:2]


def get(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.headers["Content-Type"], r.read().decode()


def test_metrics_scrape_in_the_text_format(served):
    from prometheus_client.parser import text_string_to_metric_families

    base, row = served
    ctype, text = get(base + "/metrics")
    assert ctype.startswith("text/plain; version=")  # the Prometheus text format
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    answered = {
        s.labels["outcome"]: s.value
        for s in fams["vp_gateway_answers"].samples
        if s.name.endswith("_total")
    }
    assert answered["answered"] == row["answered"] == 12
    counts = {
        s.labels["board"]: s.value
        for s in fams["vp_board_latency_seconds"].samples
        if s.name.endswith("_count")
    }
    assert counts == {"pi1": 12, "pi2": 12, "m3": 12, "m4": 12}
    ups = {s.labels["board"]: s.value for s in fams["vp_board_up"].samples}
    assert set(ups.values()) == {1.0}
    assert "vp_gateway_drops" in fams and "vp_board_misses" in fams


def chromium(url: str, *extra: str) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium not found: install the Debian package 'chromium' (make setup)")
    argv = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--virtual-time-budget=3000",
        "--window-size=1400,900",
        *extra,
        url,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_status_page_says_why_a_board_is_not_up(tmp_path):
    """One board killed (UDP: found by its missing heartbeats), one refused (another model):
    status.json and the page, rendered in headless Chromium, give each its reason and last-seen
    time, what every board runs, the client's request ids, replicas and a latency plot.
    VP_EDGE_STATUS_SHOT=docs/status-page.png keeps the screenshot."""
    with serving(tmp_path, refuse="m4") as (base, row, boards, listen, dep):
        boards.kill("pi2")
        time.sleep(2 * dep.heartbeat_s + 0.1)
        run_rate(listen, [png(28, 28, s) for s in range(3)], 30, 6, 1.0, tag="after")
        snap = json.loads(get(base + "/status.json")[1])
        rows = {b["name"]: b for b in snap["boards"]}
        assert rows["pi2"]["state"] == "down" and "no heartbeat" in rows["pi2"]["reason"]
        assert rows["m4"]["state"] == "refused" and "no card here" in rows["m4"]["reason"]
        for name in ("pi2", "m4"):
            assert 0 < snap["now"] - rows[name]["last_seen"] < 60
        assert rows["m4"]["runs"]["model_sha256"] == "00" * 32  # what it runs, though refused
        assert rows["pi1"]["runs"]["variant"] == "t16" and rows["pi1"]["state"] == "up"
        assert all(
            b["latency_ms"]["p50"] is None or b["latency_ms"]["p50"] > 0 for b in snap["boards"]
        )
        ids = [a["request_id"] for a in snap["recent"]]
        assert "after-5" in ids and all(i.startswith(("r-", "after-")) for i in ids)
        first = snap["recent"][-1]  # before the kill: pi1 votes for t16, its replica m3 not
        assert first["voters"] == ["pi1", "pi2"] and first["replicas"] == ["m3"]
        assert snap["recent"][0]["missing"] == ["m4", "pi2"]
        out = snap["outcomes"]
        assert len(snap["timeline"]) == out.get("answered", 0) + out.get("no_answer", 0) > 12, out
        dom = chromium(base + "/", "--dump-dom")
        assert dom.returncode == 0, dom.stderr[-500:]
        html = dom.stdout
        for name in ("pi1", "pi2", "m3", "m4"):  # rows the page's script built from status.json
            assert f"<td>{name}</td>" in html
        assert 'class="up">up</td>' in html and "loading…" not in html
        assert 'class="down">down</td>' in html and 'class="refused">refused</td>' in html
        assert "no heartbeat for" in html and "s ago)" in html and "after-5" in html
        shot = Path(os.environ.get("VP_EDGE_STATUS_SHOT") or tmp_path / "status.png")
        r = chromium(base + "/", f"--screenshot={shot.resolve()}")
        assert r.returncode == 0 and shot.stat().st_size > 10_000, r.stderr[-500:]
