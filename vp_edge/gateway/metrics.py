"""Prometheus metrics and a live status page, served by the gateway (``--metrics HOST:PORT``).

``/metrics`` is the Prometheus text format (``prometheus_client``), read from the gateway's own
counters at scrape time, so nothing is counted twice and the request path pays nothing;
``/status.json`` is a snapshot; ``/`` is a small page that renders the snapshot every second
(boards and their state, recent answers, latency). One HTTP thread; the page has no external
assets.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from vp_edge.errors import GatewayError, UsageError
from vp_edge.gateway.stats import board_drops, down_reason, percentiles_ms, sig3

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
PAGE = Path(__file__).with_name("status_page.html")


def _wall(gw_t: float, now_mono: float, now_wall: float) -> float | None:
    """A ``time.monotonic()`` instant as Unix time (None for 0.0: never)."""
    return round(now_wall - (now_mono - gw_t), 3) if gw_t else None


def _board_rows(gw: Any) -> list[dict]:
    """One row per board: its state and why, when it was last heard, what it runs."""
    now_mono, now_wall = time.monotonic(), time.time()
    rows = []
    for name, b in list(gw.boards.items()):
        lat = list(b.stats.latencies)
        h = b.hello
        rows.append(
            {
                "name": name,
                "id": b.spec.id,
                "kind": b.spec.kind,
                "variant": b.spec.variant,
                "link": b.spec.link.split("?")[0],
                "state": "refused" if b.refused else ("up" if b.up else "down"),
                "refused": b.refused,
                "reason": down_reason(b),
                "last_seen": _wall(b.last_seen, now_mono, now_wall),
                "down_since": None if b.up else _wall(b.down_at, now_mono, now_wall),
                "runs": None
                if h is None
                else {"variant": h.variant, "model_sha256": h.model_sha256.hex()},
                "results": len(lat),
                "misses": b.stats.misses,
                "latency_ms": percentiles_ms(lat[-500:]),
                "drops": board_drops(b),
            }
        )
    return rows


def _recent(gw: Any, answers: list, recent: int) -> list[dict]:
    """The last answers: the client's request id (the gateway's when it gave none), who voted
    and which replicas answered without voting (their variant had a lower-id board)."""
    rows = []
    for a in reversed(answers[-recent:]):
        rows.append(
            {
                "request_id": a.client_id if a.client_id is not None else f"{a.request_id:08x}",
                "client_id": a.client_id,
                "winner": a.winner,
                "class_name": _name(gw, a.winner),
                "latency_ms": sig3(a.latency_s * 1000),
                "degraded": a.degraded,
                "voters": list(a.voters),
                "replicas": sorted(set(a.answered) - set(a.voters)),
                "missing": list(a.missing),
                "error": a.error,
            }
        )
    return rows


def snapshot(gw: Any, recent: int = 15, timeline: int = 600) -> dict:
    """What the status page shows (JSON-able; read from another thread, so copies only).
    ``timeline``: the last answers as [unix time, latency ms, 0 ok / 1 degraded / 2 error]."""
    answers = list(gw.answers)
    front = getattr(gw, "front_stats", None)
    return {
        "deployment": str(gw.dep.path or gw.dep.run), "deadline_ms": gw.dep.deadline_s * 1000,
        "heartbeat_ms": gw.dep.heartbeat_s * 1000, "now": round(time.time(), 3),
        "boards": _board_rows(gw),
        "requests": front.received if front else len(answers),
        "outcomes": dict(front.outcomes) if front else {},
        "latency_ms": percentiles_ms([a.latency_s for a in answers[-1000:]]),
        "recent": _recent(gw, answers, recent),
        "timeline": [[round(a.at, 3), sig3(a.latency_s * 1000),
                      2 if a.error else int(a.degraded)] for a in answers[-timeline:]],
        "gateway_drops": {k: v for k, v in dict(gw.counts).items() if v},
    }  # fmt: skip


def _name(gw: Any, winner: int | None) -> str | None:
    names = gw.class_names  # the run's order (labels are a contract)
    return None if winner is None else (names[winner] if names else str(winner))


class GatewayCollector:
    """A prometheus_client collector over one gateway's counters."""

    def __init__(self, gw: Any) -> None:
        self.gw = gw

    def collect(self) -> Any:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        gw = self.gw
        front = getattr(gw, "front_stats", None)
        answers = list(gw.answers)
        req = CounterMetricFamily("vp_gateway_requests", "Requests received by the gateway")
        req.add_metric([], front.received if front else len(answers))
        yield req
        out = CounterMetricFamily("vp_gateway_answers", "Replies by outcome", labels=["outcome"])
        outcomes = (
            dict(front.outcomes)
            if front
            else {
                "answered": sum(a.error is None for a in answers),
                "no_answer": sum(a.error is not None for a in answers),
            }
        )
        for k, v in sorted(outcomes.items()):
            out.add_metric([k], v)
        yield out
        drops = CounterMetricFamily(
            "vp_gateway_drops", "Frames and results dropped, by reason", labels=["board", "reason"]
        )
        up = GaugeMetricFamily("vp_board_up", "1 when the board is up", labels=["board"])
        misses = CounterMetricFamily(
            "vp_board_misses", "Requests the board did not answer by the deadline", labels=["board"]
        )
        hist = HistogramMetricFamily(
            "vp_board_latency_seconds", "INFER to RESULT, per board", labels=["board"]
        )
        for name, b in list(gw.boards.items()):
            up.add_metric([name], float(b.up))
            misses.add_metric([name], b.stats.misses)
            lat = list(b.stats.latencies)
            buckets = [(str(le), sum(x <= le for x in lat)) for le in BUCKETS]
            hist.add_metric([name], buckets + [("+Inf", len(lat))], sum_value=sum(lat))
            own = {k: v for k, v in dict(b.adapter.auth.stats).items() if k != "accepted"}
            for k, v in {**own, **board_drops(b)}.items():
                drops.add_metric([name, k], v)
        yield from (up, misses, hist, drops)


class _Handler(BaseHTTPRequestHandler):
    gw: Any = None
    registry: Any = None

    def do_GET(self) -> None:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        path = self.path.split("?")[0]
        if path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, generate_latest(self.registry))
        elif path == "/status.json":
            self._send(200, "application/json", json.dumps(snapshot(self.gw)).encode())
        elif path in ("/", "/index.html"):
            self._send(200, "text/html; charset=utf-8", PAGE.read_bytes())
        else:
            self._send(404, "text/plain", b"not found: try /, /status.json or /metrics\n")

    def _send(self, code: int, ctype: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:  # scrapes every few seconds: no log line each
        return


class Exporter:
    """The HTTP thread; ``close`` stops it."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, daemon=True, name="metrics")
        self.thread.start()

    @property
    def address(self) -> tuple[str, int]:
        return self.server.server_address[:2]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_metrics(gw: Any, address: str) -> Exporter:
    """Serve ``/metrics``, ``/status.json`` and ``/`` on ``HOST:PORT`` (port 0: any free)."""
    try:
        from prometheus_client import CollectorRegistry
    except ImportError:
        raise GatewayError(
            "--metrics needs prometheus-client (pip install 'vp-edge[fleet]')"
        ) from None
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host or int(port) > 65535:
        raise UsageError(
            f"--metrics {address}: expected HOST:PORT with a port in 0..65535, e.g. 127.0.0.1:9108"
        )
    registry = CollectorRegistry()
    registry.register(GatewayCollector(gw))
    handler = type("Handler", (_Handler,), {"gw": gw, "registry": registry})
    try:
        server = ThreadingHTTPServer((host, int(port)), handler)
    except OSError as e:
        raise GatewayError(f"--metrics {address}: cannot listen: {e.strerror}") from None
    server.daemon_threads = True
    return Exporter(server)
