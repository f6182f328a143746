"""Gateway metrics (Prometheus text format) and the status page in a real headless Chromium."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import threading
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


@pytest.fixture
def served(tmp_path):
    pytest.importorskip("prometheus_client", reason="prometheus-client not installed (fleet)")
    # a deadline with room for a loaded machine: these tests are about what the metrics and the
    # page show, not about misses (one missed board at 300 ms failed a run under load)
    dep = write_deployment(tmp_path, make_fake_run(tmp_path), four_boards(_ports(2)),
                           deadline_ms=1000)
    boards = FakeBoards(dep)
    for n in ("pi1", "pi2", "m3", "m4"):
        boards.start(n)
    listen, metrics = f"udp://127.0.0.1:{_ports(1)[0]}", f"127.0.0.1:{tcp_port()}"
    ready, state = threading.Event(), {}

    async def main() -> None:
        state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
        state["report"] = await serve(dep, ServeOptions(listen, metrics=metrics),
                                      state["stop"], lambda gw: ready.set())

    t = threading.Thread(target=asyncio.run, args=(main(),))
    t.start()
    assert ready.wait(15)
    row = run_rate(listen, [png(28, 28, s) for s in range(3)], 30, 12, 1.0)
    yield f"http://{metrics}", row
    state["loop"].call_soon_threadsafe(state["stop"].set)
    t.join(10)
    boards.stop()


def get(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.headers["Content-Type"], r.read().decode()


def test_metrics_scrape_in_the_text_format(served):
    from prometheus_client.parser import text_string_to_metric_families

    base, row = served
    ctype, text = get(base + "/metrics")
    assert ctype.startswith("text/plain; version=")  # the Prometheus text format
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    answered = {s.labels["outcome"]: s.value for s in fams["vp_gateway_answers"].samples
                if s.name.endswith("_total")}
    assert answered["answered"] == row["answered"] == 12
    counts = {s.labels["board"]: s.value for s in fams["vp_board_latency_seconds"].samples
              if s.name.endswith("_count")}
    assert counts == {"pi1": 12, "pi2": 12, "m3": 12, "m4": 12}
    ups = {s.labels["board"]: s.value for s in fams["vp_board_up"].samples}
    assert set(ups.values()) == {1.0}
    assert "vp_gateway_drops" in fams and "vp_board_misses" in fams


def test_status_page_renders_in_headless_chromium(served, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium not found: install the Debian package 'chromium' (make setup)")
    base, _ = served
    argv = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--virtual-time-budget=3000", "--window-size=1100,760"]
    dom = subprocess.run([*argv, "--dump-dom", base + "/"], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-500:]
    html = dom.stdout
    for name in ("pi1", "pi2", "m3", "m4"):  # rows the page's script built from status.json
        assert f"<td>{name}</td>" in html
    assert 'class="up">up</td>' in html and "loading…" not in html
    shot = tmp_path / "status.png"
    r = subprocess.run([*argv, f"--screenshot={shot}", base + "/"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and shot.stat().st_size > 10_000, r.stderr[-500:]
