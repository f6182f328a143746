"""Inputs of the gateway: a batch of images (data set split, image folder) or UDP clients.

Client protocol (JSON over UDP, one request per datagram, one answer per request)::

    request  {"v": 1, "id": <any JSON>, "image": "<base64 of a PNG/JPEG file>"}
    answer   {"v": 1, "id": <same>, "ok": true, "winner": 3, "class_name": "Dress",
              "scores": [...], "voters": [...], "answered": [...], "missing": [...],
              "degraded": false, "latency_ms": 12.3}
    error    {"v": 1, "id": <same or null>, "ok": false, "code": "busy", "error": "busy: ..."}

Error codes: ``busy`` (the gateway cannot answer within the deadline now: retry later),
``too_large`` (datagram over 60 000 bytes or image over the pixel limit), ``bad_request``,
``no_answer`` (no board answered by the deadline), ``internal``. Parsing and admission live in
``gateway_front`` (shared with the MQTT front end). ``vp-edge classify --gateway udp://H:P img.png``
is the reference client.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections.abc import Callable

import numpy as np

from firmware_bridge.transport import parse_link
from vp_edge.errors import GatewayError, GatewayTimeout
from vp_edge.gateway.core import Answer, Gateway, run_inputs
from vp_edge.gateway.front import PROTOCOL_VERSION, FrontEnd, FrontStats, Limits, reply_bytes
from vp_edge.gateway.stats import progress_label
from vp_edge.progress import Progress

MAX_REQUEST = Limits.max_bytes
RCVBUF = 4 << 20  # ask for a deep receive buffer: bursts wait in the kernel, not dropped


async def run_batch_async(gw: Gateway, images: np.ndarray, labels: np.ndarray | None = None,
                          inflight: int = 1, show: bool = True,
                          on_request: Callable[[int], None] | None = None) -> list[Answer]:
    """``run_inputs`` with the progress line showing boards up, degraded answers and p50."""
    with Progress(len(images), progress_label(gw), enabled=show) as bar:
        def tick(_: Answer) -> None:
            bar.label = progress_label(gw)
            bar.update(1)

        return await run_inputs(gw, images, labels, inflight, on_request, tick)


class _UdpFront:
    """A reader thread stamps each datagram on arrival; the loop gives each one reply.

    The arrival stamp is taken in the thread, not when the event loop gets round to the
    datagram, so time a request waits behind a busy loop counts against its deadline (and
    turns into an honest ``busy``) instead of hiding in the kernel's receive buffer. When
    ``max_queue`` datagrams already wait for the loop, or the loop lags by more than half
    of the deadline, the thread answers ``busy`` itself: a flood cannot build a backlog.
    """

    def __init__(self, sock: socket.socket, front: FrontEnd,
                 on_answer: Callable[[dict], None] | None) -> None:
        self.sock, self.front, self.on_answer = sock, front, on_answer
        self.tasks: set[asyncio.Task] = set()
        self.handed = self.started = 0  # written by the thread / by the loop only
        self.loop = asyncio.get_running_loop()
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True, name="udp-front")
        self.thread.start()

    def _read(self) -> None:
        self.sock.settimeout(0.2)
        while not self.closing.is_set():
            try:
                data, addr = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                if self.closing.is_set():
                    return
                continue  # e.g. ICMP from a vanished client: keep serving the others
            if self.front.flooded(self.handed - self.started):
                self._reply(self.front.reject(data), addr)
            elif not self.loop.is_closed():
                self.handed += 1
                self.loop.call_soon_threadsafe(self._start, data, addr, time.monotonic())

    def _reply(self, reply: dict, addr: tuple) -> None:
        try:
            self.sock.sendto(reply_bytes(reply), addr)
        except OSError:
            self.front.stats.count("reply_failed")
        if self.on_answer:
            self.on_answer(reply)

    def _start(self, data: bytes, addr: tuple, t0: float) -> None:
        self.started += 1
        t = asyncio.create_task(self._serve(data, addr, t0))
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def _serve(self, data: bytes, addr: tuple, t0: float) -> None:
        self._reply(await self.front.handle(data, t0), addr)

    async def close(self, wait_s: float) -> None:
        self.closing.set()
        await asyncio.to_thread(self.thread.join, 1.0)
        if self.tasks:  # requests already taken get their answers
            await asyncio.wait(set(self.tasks), timeout=wait_s)
        self.sock.close()


async def serve_udp(gw: Gateway, url: str, stop: asyncio.Event,
                    on_answer: Callable[[dict], None] | None = None,
                    limits: Limits | None = None) -> FrontStats:
    """Answer client requests on ``url`` (udp://HOST:PORT) until ``stop`` is set."""
    spec = parse_link(url)
    if spec.scheme != "udp":
        raise GatewayError(f"--listen {url}: clients connect over udp://HOST:PORT")
    sock = socket.socket(socket.AF_INET6 if ":" in spec.host else socket.AF_INET,
                         socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        sock.bind((spec.host, spec.port))
    except OSError as e:
        sock.close()
        raise GatewayError(f"cannot listen on {url}: {e.strerror}") from None
    front = FrontEnd(gw, limits)
    udp = _UdpFront(sock, front, on_answer)
    try:
        await stop.wait()
    finally:
        await udp.close(gw.dep.deadline_s + 1.0)
        front.close()
    return front.stats


def classify_remote(url: str, image: bytes, timeout: float = 5.0, req_id: object = 1) -> dict:
    """Send one image file's bytes to a gateway (udp://) or a fleet (mqtt://); its JSON answer."""
    spec = parse_link(url)
    if spec.scheme in ("mqtt", "mqtts"):
        from vp_edge.gateway.fleet_client import FleetClient

        with FleetClient(url) as client:
            return client.classify(image, timeout)
    if spec.scheme != "udp":
        raise GatewayError(f"--gateway {url}: expected udp://HOST:PORT or "
                           "mqtt://BROKER:1883/DEPLOYMENT")
    body = json.dumps({"v": PROTOCOL_VERSION, "id": req_id,
                       "image": base64.b64encode(image).decode()}).encode()
    if len(body) > MAX_REQUEST:
        raise GatewayError(f"image too large for one request ({len(body)} > {MAX_REQUEST} bytes)"
                           "; send a smaller PNG/JPEG")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.connect((spec.host, spec.port))
            s.send(body)
            data = s.recv(65536)
        except TimeoutError:
            raise GatewayTimeout(f"no answer from the gateway at {url} within {timeout:.1f} s; "
                                 "is 'vp-edge gateway --listen' running?") from None
        except ConnectionRefusedError:
            raise GatewayError(f"nothing listens at {url}; is 'vp-edge gateway --listen' "
                               "running?") from None
        except OSError as e:
            raise GatewayError(f"gateway {url}: {e.strerror}") from None
    try:
        return json.loads(data)
    except ValueError:
        raise GatewayError(f"gateway {url} answered something that is not JSON") from None
