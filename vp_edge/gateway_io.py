"""Inputs of the gateway: a batch of images (data set split, image folder) or UDP clients.

Client protocol (JSON over UDP, one request per datagram, one answer per request)::

    request  {"v": 1, "id": <any JSON>, "image": "<base64 of a PNG/JPEG file>"}
    answer   {"v": 1, "id": <same>, "ok": true, "winner": 3, "class_name": "Dress",
              "scores": [...], "voters": [...], "answered": [...], "missing": [...],
              "degraded": false, "latency_ms": 12.3}
    error    {"v": 1, "id": <same or null>, "ok": false, "error": "no board answered ..."}

A request datagram may be up to 60 000 bytes. ``vp-edge classify --gateway udp://H:P img.png``
is the reference client.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import socket
from collections.abc import Callable, Sequence

import numpy as np

from firmware_bridge.transport import parse_link
from vp_edge.data import fit_image
from vp_edge.errors import DataError, GatewayError, GatewayTimeout, VpEdgeError
from vp_edge.gateway import Answer, Gateway, run_inputs
from vp_edge.gateway_stats import progress_label
from vp_edge.progress import Progress

MAX_REQUEST = 60_000
PROTOCOL_VERSION = 1


def decode_image(data: bytes, input_shape: tuple[int, int, int]) -> np.ndarray:
    """PNG/JPEG bytes -> uint8 image of the family's input shape (as ``data.load_image``)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            a = np.asarray(im.convert("L" if input_shape[2] == 1 else "RGB"))
    except (OSError, ValueError) as e:
        raise DataError(f"cannot decode the image ({e}); send a PNG or JPEG file") from None
    return fit_image(a, input_shape)


def answer_json(a: Answer, req_id: object, class_names: Sequence[str]) -> dict:
    if a.error is not None:
        return {"v": PROTOCOL_VERSION, "id": req_id, "ok": False, "error": a.error,
                "missing": list(a.missing)}
    d = {"v": PROTOCOL_VERSION, "id": req_id, "ok": True, **a.to_dict()}
    d.pop("error", None)
    d.pop("label", None)
    d["class_name"] = class_names[a.winner] if class_names else str(a.winner)
    return d


async def run_batch_async(gw: Gateway, images: np.ndarray, labels: np.ndarray | None = None,
                          inflight: int = 1, show: bool = True,
                          on_request: Callable[[int], None] | None = None) -> list[Answer]:
    """``run_inputs`` with the progress line showing boards up, degraded answers and p50."""
    with Progress(len(images), progress_label(gw), enabled=show) as bar:
        def tick(_: Answer) -> None:
            bar.label = progress_label(gw)
            bar.update(1)

        return await run_inputs(gw, images, labels, inflight, on_request, tick)


class _ClientProtocol(asyncio.DatagramProtocol):
    def __init__(self, gw: Gateway, on_answer: Callable[[dict], None] | None) -> None:
        self.gw, self.on_answer = gw, on_answer
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        t = asyncio.create_task(self._serve(data, addr))
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def _serve(self, data: bytes, addr: tuple) -> None:
        req_id = None
        try:
            req = json.loads(data)
            req_id = req.get("id") if isinstance(req, dict) else None
            if not isinstance(req, dict) or req.get("v") != PROTOCOL_VERSION:
                raise GatewayError(f"request must be a JSON object with v={PROTOCOL_VERSION}")
            img = decode_image(base64.b64decode(req["image"], validate=True),
                               self.gw.family.input_shape)
            a = await self.gw.classify(img)
            reply = answer_json(a, req_id, self.gw.class_names)
        except (ValueError, KeyError, TypeError, binascii.Error, VpEdgeError) as e:
            msg = str(e) if isinstance(e, VpEdgeError) else f"bad request: {e!r}"
            reply = {"v": PROTOCOL_VERSION, "id": req_id, "ok": False, "error": msg}
        if self.transport is not None:
            self.transport.sendto(json.dumps(reply).encode(), addr)
        if self.on_answer:
            self.on_answer(reply)


async def serve_udp(gw: Gateway, url: str, stop: asyncio.Event,
                    on_answer: Callable[[dict], None] | None = None) -> None:
    """Answer client requests on ``url`` (udp://HOST:PORT) until ``stop`` is set."""
    spec = parse_link(url)
    if spec.scheme != "udp":
        raise GatewayError(f"--listen {url}: clients connect over udp://HOST:PORT")
    loop = asyncio.get_running_loop()
    try:
        transport, proto = await loop.create_datagram_endpoint(
            lambda: _ClientProtocol(gw, on_answer), local_addr=(spec.host, spec.port))
    except OSError as e:
        raise GatewayError(f"cannot listen on {url}: {e.strerror}") from None
    try:
        await stop.wait()
    finally:
        transport.close()


def classify_remote(url: str, image: bytes, timeout: float = 5.0, req_id: object = 1) -> dict:
    """Send one image file's bytes to a gateway; return its JSON answer."""
    spec = parse_link(url)
    if spec.scheme != "udp":
        raise GatewayError(f"--gateway {url}: expected udp://HOST:PORT")
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
