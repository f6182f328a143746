"""The gateway's UDP front end: each client datagram gets exactly one JSON answer.

The batch driver (images of a data set split or folder) is ``batch``; the reference client
``client.classify_remote``. Client protocol (JSON over UDP, one request per datagram, one
answer per request)::

    request  {"v": 1, "id": <any JSON>, "image": "<base64 of a PNG/JPEG file>"}
    answer   {"v": 1, "id": <same>, "ok": true, "winner": 3, "class_name": "Dress",
              "scores": [...], "voters": [...], "answered": [...], "missing": [...],
              "degraded": false, "latency_ms": 12.3}
    error    {"v": 1, "id": <same or null>, "ok": false, "code": "busy", "error": "busy: ..."}

Error codes: ``busy`` (the gateway cannot answer within the deadline now: retry later),
``too_large`` (datagram over 60 000 bytes or image over the pixel limit), ``bad_request``,
``no_answer`` (no board answered by the deadline), ``internal``. Parsing and admission live in
``front`` (shared with the MQTT front end). ``vp-edge classify --gateway udp://H:P img.png``
is the reference client.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable

from firmware_bridge.transport import parse_link
from vp_edge.errors import GatewayError
from vp_edge.gateway.core import Gateway
from vp_edge.gateway.front import FrontEnd, FrontStats, Limits, reply_bytes

RCVBUF = 4 << 20  # ask for a deep receive buffer: bursts wait in the kernel, not dropped


class _UdpFront:
    """A reader thread stamps each datagram on arrival; the loop gives each one reply.

    The arrival stamp is taken in the thread, not when the event loop gets round to the
    datagram, so time a request waits behind a busy loop counts against its deadline (and
    turns into an honest ``busy``) instead of hiding in the kernel's receive buffer. When
    ``max_queue`` datagrams already wait for the loop, or the loop lags by more than half
    of the deadline, the thread answers ``busy`` itself: a flood cannot build a backlog.
    """

    def __init__(
        self, sock: socket.socket, front: FrontEnd, on_answer: Callable[[dict], None] | None
    ) -> None:
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


async def serve_udp(
    gw: Gateway,
    url: str,
    stop: asyncio.Event,
    on_answer: Callable[[dict], None] | None = None,
    limits: Limits | None = None,
) -> FrontStats:
    """Answer client requests on ``url`` (udp://HOST:PORT) until ``stop`` is set."""
    spec = parse_link(url)
    if spec.scheme != "udp":
        raise GatewayError(f"--listen {url}: clients connect over udp://HOST:PORT")
    sock = socket.socket(socket.AF_INET6 if ":" in spec.host else socket.AF_INET, socket.SOCK_DGRAM)
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
