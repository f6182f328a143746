"""What every gateway front end (UDP, MQTT) shares: bounded parsing, admission, one answer each.

A request is checked before anything costly happens: its size, its JSON nesting depth (counted
on the raw bytes, so a 1,000-deep document is an error answer and never a ``RecursionError``),
and the image's pixel count read from the PNG/JPEG header before it is decoded. Decoding runs in
a worker thread, off the event loop. ``Admission`` (gateway/admission.py) bounds the requests
in flight by what the boards are measured to serve within the deadline, and lets wait only
those that can still be served in time; the others get an explicit ``busy`` at once, before
their image is decoded (the UDP reader thread answers them without the event loop). Whatever
happens, ``FrontEnd.handle`` returns exactly one reply per request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import logging
import math
import re
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from vp_edge.errors import DataError, VpEdgeError
from vp_edge.gateway.admission import Admission
from vp_edge.gateway.core import Answer, Gateway
from vp_edge.gateway.lag import lag_too_high, plan_wait
from vp_edge.images import fit_image, fit_notes

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
#: leading bytes of the image files a request may carry (PNG, JPEG, BMP)
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


@dataclass(frozen=True)
class Limits:
    """Bounds on one front end (defaults suit loopback clients and 28x28..224x224 inputs)."""

    max_bytes: int = 60_000
    max_depth: int = 8
    max_pixels: int = 4_000_000
    max_inflight: int = 16
    max_queue: int = 64
    decode_workers: int = 2


class RequestError(VpEdgeError):
    """A request the front end answers with an error (``code`` says which kind)."""

    exit_code = 2

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def json_depth(data: bytes) -> int:
    """Deepest nesting of ``[``/``{`` in a JSON document, counted without parsing it."""
    depth = deepest = 0
    for m in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if m.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _no_constant(name: str) -> object:
    """NaN and Infinity are not JSON: refused, so a reply never has to echo them."""
    raise RequestError(
        "bad_request",
        f"request holds {name}, which JSON does not allow; send "
        "finite numbers (or the id as a string)",
    )


def _finite_float(text: str) -> float:
    """A number such as 1e999 parses as infinity in Python: refused like NaN and Infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise RequestError(
            "bad_request",
            f"request holds the number {text[:40]}, out of the "
            "range of a double; send the id as a string",
        )
    return value


def reply_bytes(reply: dict) -> bytes:
    """A reply as strict JSON (RFC 8259: no NaN or Infinity); an internal error reply if a
    value cannot be written so (a bug, logged), never a reply strict parsers reject."""
    try:
        return json.dumps(reply, allow_nan=False).encode()
    except (ValueError, TypeError) as e:
        log.error("front end: reply is not strict JSON (%s): %r", e, reply)
        req_id = reply.get("id") if isinstance(reply.get("id"), str | int | None) else None
        return json.dumps(
            error_reply(req_id, "internal", "internal error: reply not JSON"), allow_nan=False
        ).encode()


def parse_request(data: bytes, limits: Limits) -> tuple[object, bytes]:
    """Bounded parse of ``{"v": 1, "id": ..., "image": base64}``: (id, image file bytes)."""
    req_id, image = parse_envelope(data, limits)
    try:
        return req_id, base64.b64decode(image, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("bad_request", "'image' is not valid base64") from None


def parse_envelope(data: bytes, limits: Limits) -> tuple[object, str]:
    """The request's id and its image still in base64 (checked: size, depth, JSON, fields)."""
    if len(data) > limits.max_bytes:
        raise RequestError(
            "too_large",
            f"request of {len(data)} bytes exceeds {limits.max_bytes}; send a smaller PNG/JPEG",
        )
    if json_depth(data) > limits.max_depth:
        raise RequestError("bad_request", f"request JSON nests deeper than {limits.max_depth}")
    try:
        req = json.loads(data, parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as e:
        raise RequestError("bad_request", f"request is not JSON ({e})") from None
    if not isinstance(req, dict) or req.get("v") != PROTOCOL_VERSION:
        raise RequestError(
            "bad_request", f"request must be a JSON object with v={PROTOCOL_VERSION}"
        )
    req_id = req.get("id")
    image = req.get("image")
    if not isinstance(image, str):
        raise RequestError("bad_request", "request needs 'image': base64 of a PNG/JPEG file")
    return req_id, image


def decode_image(
    data: bytes, input_shape: tuple[int, int, int], max_pixels: int = Limits.max_pixels
) -> tuple[np.ndarray, list[str]]:
    """PNG/JPEG bytes -> uint8 image of ``input_shape``, and what was done to fit it (resized,
    converted from colour: ``fit_notes``); the size is checked from the header."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:  # reads the header only
            w, h = im.size
            if w * h > max_pixels:
                raise RequestError(
                    "too_large",
                    f"image of {w}x{h} pixels exceeds {max_pixels}; send a smaller image",
                )
            if im.format not in ("PNG", "JPEG", "BMP"):
                raise RequestError(
                    "bad_request", f"image format {im.format} not accepted; send a PNG or JPEG file"
                )
            notes = fit_notes(im.size, im.mode, input_shape)
            a = np.asarray(im.convert("L" if input_shape[2] == 1 else "RGB"))
    except Image.UnidentifiedImageError:
        raise DataError(
            f"the request's image ({len(data)} bytes, starting {data[:8]!r}) is not "
            "a PNG, JPEG or BMP file; send one of those"
        ) from None
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(
            f"cannot decode the request's image ({e}); send a PNG or JPEG file"
        ) from None
    return fit_image(a, input_shape), notes


@dataclass
class FrontStats:
    """Counts of one front end: every request lands in exactly one outcome."""

    received: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    service_s: deque = field(default_factory=lambda: deque(maxlen=64))
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, outcome: str) -> None:
        with self.lock:  # front-end reader threads count too
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def to_dict(self) -> dict:
        return {"received": self.received, "outcomes": dict(self.outcomes)}


def error_reply(req_id: object, code: str, message: str) -> dict:
    return {"v": PROTOCOL_VERSION, "id": req_id, "ok": False, "code": code, "error": message}


def answer_reply(a: Answer, req_id: object, class_names: list[str] | tuple[str, ...]) -> dict:
    if a.error is not None:
        return {**error_reply(req_id, "no_answer", a.error), "missing": list(a.missing)}
    d = {"v": PROTOCOL_VERSION, "id": req_id, "ok": True, **a.to_dict()}
    for key in ("error", "label", "client_id"):  # client_id: the reply's "id" already
        d.pop(key, None)
    d["class_name"] = class_names[a.winner] if class_names else str(a.winner)
    return d


class FrontEnd:
    """Turns request bytes into exactly one reply, with bounded work and honest ``busy``."""

    def __init__(self, gw: Gateway, limits: Limits | None = None) -> None:
        self.gw, self.limits = gw, limits or Limits()
        self.stats = FrontStats()
        gw.front_stats = self.stats  # type: ignore[attr-defined]  # for metrics and status
        self.admission = Admission(
            self.limits.max_inflight, self.limits.max_queue, gw.dep.deadline_s
        )
        gw.admission = self.admission  # type: ignore[attr-defined]  # for metrics and status
        import PIL.Image  # noqa: F401  # imported here, not by the first request's worker

        self.pool = ThreadPoolExecutor(self.limits.decode_workers, thread_name_prefix="decode")

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _busy(self, req_id: object, why: str) -> dict:
        self.gw.note_overload()
        self.stats.count("busy")
        return error_reply(req_id, "busy", f"busy: {why}; retry later")

    def flooded(self, backlog: int) -> bool:
        """Whether a request not yet on the loop should be turned away before reaching it: the
        requests ahead of it already fill what the boards can serve within the deadline, or
        the loop lags too far behind."""
        return (
            backlog >= self.limits.max_queue
            or not self.admission.can_queue(0.0, backlog)
            or lag_too_high(self.gw.dep.deadline_s, self.gw.lag_window.high())
        )

    def reject(self, data: bytes) -> dict:
        """Answer without serving (called off the loop when it is flooded): busy, or the error.
        Cheap on purpose: the request's envelope is parsed for its id, its image not decoded."""
        with self.stats.lock:
            self.stats.received += 1
        req_id = None
        try:
            req_id, _ = parse_envelope(data, self.limits)
        except RequestError as e:
            self.stats.count(e.code)
            return error_reply(req_id, e.code, str(e))
        return self._busy(req_id, "the gateway is serving all it can within the deadline")

    async def handle(self, data: bytes, t0: float | None = None) -> dict:
        """One request -> one reply (never raises)."""
        t0 = time.monotonic() if t0 is None else t0
        with self.stats.lock:
            self.stats.received += 1
        req_id = None
        try:
            req_id, image = parse_request(data, self.limits)
            return await self._admitted(req_id, image, t0)
        except RequestError as e:
            self.stats.count(e.code)
            return error_reply(req_id, e.code, str(e))
        except VpEdgeError as e:
            self.stats.count("bad_request")
            return error_reply(req_id, "bad_request", str(e))
        except Exception as e:  # the one-answer rule holds even for our own bugs
            log.exception("front end: request failed")
            self.stats.count("internal")
            return error_reply(req_id, "internal", f"internal error: {e!r}")

    async def _admitted(self, req_id: object, image: bytes, t0: float) -> dict:
        deadline = self.gw.dep.deadline_s
        if not await self.admission.enter(t0):
            return self._busy(
                req_id,
                f"{self.admission.inflight} requests in flight and "
                f"{self.admission.waiting} waiting fill the deadline",
            )
        need = self.admission.service_s
        served = None
        try:
            loop = asyncio.get_running_loop()
            img, notes = await loop.run_in_executor(
                self.pool, decode_image, image, self.gw.family.input_shape, self.limits.max_pixels
            )
            left = deadline - (time.monotonic() - t0)
            # the only request in flight is served even so (plan_wait still guards its
            # deadline): its answer measures the service time again, which otherwise, once
            # estimated over the deadline, would turn every later request away for good
            if left < need and self.admission.inflight > 1:
                return self._busy(
                    req_id,
                    f"{left * 1000:.0f} ms left of the deadline, "
                    f"a request takes about {need * 1000:.0f} ms",
                )
            # stop waiting for boards early enough that a late-waking loop (the high quantile
            # of its recent lag) still replies in time; busy when the lag leaves no useful wait
            t1 = time.monotonic()
            plan = plan_wait(deadline, t1 - t0, self.gw.lag_window.high(), need)
            if plan.busy is not None:
                return self._busy(req_id, plan.busy)
            a = await self.gw.classify(img, t0=t0, deadline_s=plan.stop_s, client_id=req_id)
            late = time.monotonic() - t0 - plan.stop_s
            if late > 0:  # how late this wait woke: the lag that requests meet, measured
                self.gw.lag_window.add(late)
            if a.error is None:
                served = time.monotonic() - t1
                self.stats.service_s.append(served)
        finally:
            self.admission.leave(served)
        self.stats.count("answered" if a.error is None else "no_answer")
        return {**answer_reply(a, req_id, self.gw.class_names), "preprocessed": notes}
