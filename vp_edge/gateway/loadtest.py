"""A load client for a gateway's UDP front end: fixed rates, bounded in count and time.

Every request carries a unique id; the tally per rate says what became of each one: answered,
explicit ``busy``, another explicit error, or lost (no reply by the end: must be 0). Latency is
measured at the client, from send to reply.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from firmware_bridge.transport import parse_link
from vp_edge.errors import GatewayError
from vp_edge.gateway.front import PROTOCOL_VERSION
from vp_edge.gateway.stats import percentiles_ms


class _Receiver(threading.Thread):
    """Stamps each reply as it arrives (a thread, so the sender's pacing cannot delay it)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True, name="load-recv")
        self.sock, self.stop = sock, threading.Event()
        self.replies: dict[str, list[tuple[float, dict]]] = {}
        self.garbled = 0

    def run(self) -> None:
        self.sock.settimeout(0.05)
        while not self.stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                continue  # ICMP port unreachable while the gateway restarts
            t = time.monotonic()
            try:
                reply = json.loads(data)
                key = str(reply["id"])
            except (ValueError, KeyError, TypeError):
                self.garbled += 1
                continue
            self.replies.setdefault(key, []).append((t, reply))


def tally(
    sent: dict[str, float], replies: dict[str, list[tuple[float, dict]]], rate: float, wall_s: float
) -> dict:
    """One rate's row: sent, answered, busy, other errors (by code), lost, duplicates, p50/p99,
    and goodput: answers per second of sending (the offered window, ``sent / rate``), the
    figure that must hold near capacity when the rate goes past it."""
    out = {
        "rate": rate,
        "sent": len(sent),
        "answered": 0,
        "busy": 0,
        "errors": 0,
        "lost": 0,
        "duplicates": 0,
        "degraded": 0,  # answered without every board (one missed the deadline)
    }
    lat, gw_lat = [], []
    codes: dict[str, int] = {}
    for key, t_sent in sent.items():
        got = replies.get(key)
        if not got:
            out["lost"] += 1
            continue
        out["duplicates"] += len(got) - 1
        t, reply = got[0]
        if reply.get("ok"):
            out["answered"] += 1
            out["degraded"] += bool(reply.get("degraded"))
            lat.append(t - t_sent)
            gw_lat.append(float(reply.get("latency_ms", 0.0)) / 1000)
        elif reply.get("code") == "busy":
            out["busy"] += 1
        else:
            out["errors"] += 1
            codes[str(reply.get("code"))] = codes.get(str(reply.get("code")), 0) + 1
    ms = percentiles_ms(lat)
    out.update(
        p50_ms=ms["p50"],
        p99_ms=ms["p99"],
        max_ms=ms["max"],
        gateway_p99_ms=percentiles_ms(gw_lat)["p99"],
        answered_per_s=round(out["answered"] / wall_s, 1) if wall_s else None,
        goodput_per_s=round(out["answered"] * rate / len(sent), 1) if sent else None,
        error_codes=codes,
    )
    return out


def run_rate(
    url: str, images: Sequence[bytes], rate: float, count: int, wait_s: float, tag: str = "r"
) -> dict:
    """Send ``count`` requests at ``rate``/s (images in turn); wait ``wait_s`` for stragglers."""
    spec = parse_link(url)
    if spec.scheme != "udp":
        raise GatewayError(f"load test {url}: expected udp://HOST:PORT")
    bodies = [base64.b64encode(b).decode() for b in images]
    sent: dict[str, float] = {}
    with socket.socket(
        socket.AF_INET6 if ":" in spec.host else socket.AF_INET, socket.SOCK_DGRAM
    ) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.connect((spec.host, spec.port))
        recv = _Receiver(sock)
        recv.start()
        t_start = time.monotonic()
        try:
            for i in range(count):
                if (d := t_start + i / rate - time.monotonic()) > 0:
                    time.sleep(d)
                key = f"{tag}-{i}"
                body = {"v": PROTOCOL_VERSION, "id": key, "image": bodies[i % len(bodies)]}
                sent[key] = time.monotonic()
                try:
                    sock.send(json.dumps(body).encode())
                except OSError:
                    pass  # counted as lost: nothing came back for it
            end = time.monotonic() + wait_s
            while time.monotonic() < end and len(recv.replies) < len(sent):
                time.sleep(0.02)
        finally:
            recv.stop.set()
            recv.join(1.0)
    row = tally(sent, recv.replies, rate, time.monotonic() - t_start)
    row["garbled"] = recv.garbled
    return row


def run_rate_mqtt(
    url: str,
    images: Sequence[bytes],
    rate: float,
    count: int,
    wait_s: float,
    tag: str = "m",
    retry_s: float = 1.0,
    on_sent: Callable[[int], None] | None = None,
) -> dict:
    """As ``run_rate`` through a fleet: requests not answered after ``retry_s`` are re-sent
    with the same id (a gateway may have died with them); only the first reply counts."""
    from vp_edge.gateway.fleet_client import FleetClient

    bodies = [base64.b64encode(b).decode() for b in images]
    sent: dict[str, float] = {}
    last: dict[str, float] = {}
    retries = 0
    with FleetClient(url) as client:
        t_start = time.monotonic()
        for i in range(count):
            if (d := t_start + i / rate - time.monotonic()) > 0:
                time.sleep(d)
            key = f"{tag}-{i}"
            sent[key] = last[key] = time.monotonic()
            client.send(key, bodies[i % len(bodies)])
            retries += _retry(client, bodies, last, retry_s)
            if on_sent is not None:
                on_sent(i)
        end = time.monotonic() + wait_s
        while time.monotonic() < end and len(client.replies) < len(sent):
            time.sleep(0.02)
            retries += _retry(client, bodies, last, retry_s)
        with client.lock:
            replies = {k: list(v) for k, v in client.replies.items()}
        garbled = client.garbled
    row = tally(sent, replies, rate, time.monotonic() - t_start)
    # "duplicates" are extra replies on the wire; the application gets the first one only
    row.update(garbled=garbled, retries=retries)
    return row


def _retry(client: Any, bodies: list[str], last: dict[str, float], retry_s: float) -> int:
    """Re-send every unanswered request whose last send is older than ``retry_s``."""
    now, n = time.monotonic(), 0
    for key, t in list(last.items()):
        if client.first(key) is not None:
            del last[key]
        elif now - t > retry_s:
            client.send(key, bodies[int(key.rsplit("-", 1)[1]) % len(bodies)])
            last[key] = now
            n += 1
    return n


def load_test(
    url: str, images: Sequence[bytes], rates: Sequence[float], seconds: float, wait_s: float = 2.0
) -> list[dict]:
    """Rising rates, ``seconds`` each (at least one request per rate), one row per rate."""
    if not images:
        raise GatewayError("load test: no images to send")
    mqtt = parse_link(url).scheme in ("mqtt", "mqtts")
    one = run_rate_mqtt if mqtt else run_rate
    return [one(url, images, r, max(1, int(r * seconds)), wait_s, f"r{r:g}") for r in rates]


def parse_rates(text: str) -> list[float]:
    """``--rates`` as numbers, each finite in (0, 100000]: NaN or inf would never end a
    sending loop."""
    from vp_edge.checks import number_problem
    from vp_edge.errors import UsageError

    try:
        rates = [float(r) for r in text.split(",") if r.strip()]
    except ValueError:
        rates = []
    problem = next((p for r in rates if (p := number_problem(r, 0, 100_000, low_open=True))), None)
    if not rates or problem:
        raise UsageError(
            f"--rates {text!r}: expected positive numbers, e.g. 20,50,100"
            + (f" (each {problem})" if problem else "")
        )
    return rates


def read_images(folder: Path, limit: int = 256) -> list[bytes]:
    """The first ``limit`` PNG/JPEG/BMP files of ``folder`` (sorted by name), each bounded as the
    gateway bounds one request; a missing or empty folder is a ``DataError``."""
    from firmware_bridge.files import read_limited
    from vp_edge.errors import DataError
    from vp_edge.gateway.batch import IMAGE_SUFFIXES
    from vp_edge.gateway.client import MAX_REQUEST

    if not folder.is_dir():
        raise DataError(f"--images {folder}: not a folder of PNG/JPEG images")
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{folder}: no .png/.jpg/.jpeg/.bmp images found")
    return [read_limited(f, MAX_REQUEST, f"image {f}") for f in files[:limit]]


def load_exit_code(rows: list[dict]) -> int:
    """3 when any request of any rate got no reply at all (lost), else 0."""
    return 3 if any(r["lost"] for r in rows) else 0


def load_table(rows: list[dict]) -> str:
    head = (
        f"{'rate/s':>7} {'sent':>6} {'answered':>8} {'busy':>6} {'errors':>6} {'lost':>5} "
        f"{'dup':>4} {'p50 ms':>8} {'p99 ms':>8} {'goodput/s':>9}"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"{r['rate']:>7g} {r['sent']:>6} {r['answered']:>8} {r['busy']:>6} "
            f"{r['errors']:>6} {r['lost']:>5} {r['duplicates']:>4} "
            f"{_f(r['p50_ms']):>8} {_f(r['p99_ms']):>8} {_f(r['goodput_per_s']):>9}"
        )
    return "\n".join(lines)


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"
