"""Gateways that scale out: requests over MQTT, shared among gateways, answered once each.

Topics (docs/fleet.md)::

    vp/<deployment>/requests            clients publish (QoS 1) the UDP front end's JSON request,
                                        MQTT 5 properties: ResponseTopic, CorrelationData
    vp/<deployment>/replies/<client>    a gateway publishes the reply there (same correlation)

Gateways subscribe with ``$share/<group>/vp/<deployment>/requests``, so the broker hands each
request to one of them. A client retries a request with the same id after its timeout (e.g. a
gateway died with it); a gateway that sees an id again answers from a short-lived cache (or
joins the request still in flight) instead of classifying twice; the client hands only the
first reply per id to the application. Parsing, admission and ``busy`` are the UDP front end's
(``front``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from firmware_bridge.transport import parse_link
from firmware_bridge.transport.mqtt import new_client
from vp_edge.errors import GatewayError
from vp_edge.gateway.core import Gateway
from vp_edge.gateway.front import FrontEnd, FrontStats, Limits, reply_bytes

CACHE_S = 30.0  # how long an answered id is remembered (longer than any client's retries)
CACHE_MAX = 20_000


def request_topic(deployment: str) -> str:
    return f"vp/{deployment}/requests"


def reply_prefix(deployment: str) -> str:
    return f"vp/{deployment}/replies/"


def deployment_of(url: str) -> str:
    """The deployment named by ``mqtt://BROKER/DEPLOYMENT`` (a request URL names no board)."""
    spec = parse_link(url)
    if spec.scheme not in ("mqtt", "mqtts"):
        raise GatewayError(f"{url}: expected mqtt://BROKER:1883/DEPLOYMENT (or mqtts://)")
    names = [p for p in spec.path.split("/") if p]
    if len(names) != 1:
        raise GatewayError(f"{url}: expected mqtt://BROKER:1883/DEPLOYMENT (no board id)")
    return names[0]


@dataclass
class _Entry:
    future: asyncio.Future
    at: float


class ReplyCache:
    """Request key -> its reply (future), kept ``CACHE_S``; duplicates share one answer."""

    def __init__(self) -> None:
        self.entries: OrderedDict[str, _Entry] = OrderedDict()
        self.hits = 0

    def get_or_start(self, key: str) -> tuple[asyncio.Future, bool]:
        """(future, fresh): fresh means the caller must compute and resolve it."""
        now = time.monotonic()
        while self.entries and (
            len(self.entries) > CACHE_MAX or now - next(iter(self.entries.values())).at > CACHE_S
        ):
            self.entries.popitem(last=False)
        e = self.entries.get(key)
        if e is not None:
            self.hits += 1
            return e.future, False
        fut = asyncio.get_running_loop().create_future()
        self.entries[key] = _Entry(fut, now)
        return fut, True


class MqttFront:
    """One gateway's share of ``vp/<deployment>/requests``."""

    def __init__(self, gw: Gateway, url: str, group: str, limits: Limits | None) -> None:
        self.gw, self.deployment = gw, deployment_of(url)
        self.front = FrontEnd(gw, limits)
        self.cache = ReplyCache()
        self.loop = asyncio.get_running_loop()
        self.tasks: set[asyncio.Task] = set()
        self.counts = {"bad_reply_topic": 0, "duplicates": 0, "connects": 0}
        self.sub = f"$share/{group}/{request_topic(self.deployment)}"
        self.client = new_client(
            parse_link(url),
            f"vp-gw-{group}-{uuid.uuid4().hex[:8]}",
            self._on_connect,
            self._on_message,
        )

    def _on_connect(self, client: Any, _u: object, _f: object, reason: Any, _p: object) -> None:
        if not reason.is_failure:
            self.counts["connects"] += 1
            client.subscribe(self.sub, qos=1)

    def _on_message(self, _c: object, _u: object, msg: Any) -> None:
        """paho's thread: stamp the arrival, hand the request to the loop."""
        t0 = time.monotonic()
        props = getattr(msg, "properties", None)
        reply_to = getattr(props, "ResponseTopic", None)
        corr = getattr(props, "CorrelationData", None) or b""
        if not reply_to or not reply_to.startswith(reply_prefix(self.deployment)):
            self.counts["bad_reply_topic"] += 1  # nowhere (or somewhere foreign) to answer
            return
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(
                self._start, bytes(msg.payload), reply_to, bytes(corr), t0
            )

    def _start(self, data: bytes, reply_to: str, corr: bytes, t0: float) -> None:
        t = asyncio.create_task(self._serve(data, reply_to, corr, t0))
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def _serve(self, data: bytes, reply_to: str, corr: bytes, t0: float) -> None:
        key = f"{reply_to}\x00{corr.hex()}"
        fut, fresh = self.cache.get_or_start(key) if corr else (None, True)
        if fresh:
            try:
                reply = await self.front.handle(data, t0)
            finally:
                if fut is not None and not fut.done():
                    if "reply" in locals():
                        fut.set_result(reply)
                    else:  # cancelled (gateway stopping): duplicates must not wait forever
                        fut.cancel()
        else:
            self.counts["duplicates"] += 1
            reply = await asyncio.shield(fut)
        self._publish(reply_to, corr, reply)

    def _publish(self, reply_to: str, corr: bytes, reply: dict) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = corr
        self.client.publish(reply_to, reply_bytes(reply), qos=1, properties=props)

    async def close(self) -> None:
        if self.tasks:  # requests already taken get their answers
            await asyncio.wait(set(self.tasks), timeout=self.gw.dep.deadline_s + 1.0)
        self.client.disconnect()
        self.client.loop_stop()
        self.front.close()


async def serve_mqtt(
    gw: Gateway,
    url: str,
    stop: asyncio.Event,
    group: str = "gateways",
    limits: Limits | None = None,
) -> tuple[FrontStats, dict]:
    """Take this gateway's share of the deployment's requests until ``stop`` is set."""
    front = MqttFront(gw, url, group, limits)
    try:
        await stop.wait()
    finally:
        await front.close()
    return front.front.stats, {**front.counts, "cache_hits": front.cache.hits}
