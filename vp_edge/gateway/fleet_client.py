"""The client side of a fleet: requests to ``vp/<deployment>/requests``, replies by correlation.

``FleetClient(url).classify(image_bytes)`` is one request; ``send``/``replies`` serve the load
test. A request is re-published with the same id after ``retry_s`` until ``timeout`` (a gateway
may have died holding it); gateways answer a repeated id from their cache, and the client hands
the first reply per id to the application: each request is answered once, or times out.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from typing import Any

from firmware_bridge.transport import parse_link
from firmware_bridge.transport.mqtt import new_client
from vp_edge.errors import GatewayError
from vp_edge.gateway.front import PROTOCOL_VERSION
from vp_edge.gateway.mqtt import deployment_of, reply_prefix, request_topic


class FleetClient:
    """A connected client with its own reply topic; thread-safe ``send``."""

    def __init__(self, url: str, connect_s: float = 10.0) -> None:
        self.deployment = deployment_of(url)
        self.id = uuid.uuid4().hex[:12]
        self.reply_topic = f"{reply_prefix(self.deployment)}{self.id}"
        self.lock = threading.Lock()
        self.replies: dict[str, list[tuple[float, dict]]] = {}
        self.garbled = 0
        self.ready = threading.Event()
        self.client = new_client(
            parse_link(url), f"vp-client-{self.id}", self._on_connect, self._on_message
        )
        if not self.ready.wait(connect_s):
            self.close()
            raise GatewayError(f"{url}: no connection to the broker within {connect_s:.0f} s")

    def _on_connect(self, client: Any, _u: object, _f: object, reason: Any, _p: object) -> None:
        if not reason.is_failure:
            client.subscribe(self.reply_topic, qos=1)
            self.ready.set()

    def _on_message(self, _c: object, _u: object, msg: Any) -> None:
        t = time.monotonic()
        try:
            reply = json.loads(msg.payload)
            key = str(reply["id"])
        except (ValueError, KeyError, TypeError):
            self.garbled += 1
            return
        with self.lock:
            self.replies.setdefault(key, []).append((t, reply))

    def send(self, key: str, image_b64: str) -> None:
        """Publish request ``key`` (again, when retrying: same id, same correlation)."""
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.reply_topic
        props.CorrelationData = key.encode()
        body = json.dumps({"v": PROTOCOL_VERSION, "id": key, "image": image_b64})
        self.client.publish(request_topic(self.deployment), body.encode(), qos=1, properties=props)

    def first(self, key: str) -> tuple[float, dict] | None:
        with self.lock:
            got = self.replies.get(key)
            return got[0] if got else None

    def classify(self, image: bytes, timeout: float = 5.0, retry_s: float = 1.0) -> dict:
        """One image file's bytes -> the gateway's JSON reply (retried until ``timeout``)."""
        key = uuid.uuid4().hex
        b64 = base64.b64encode(image).decode()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.send(key, b64)
            retry_at = min(end, time.monotonic() + retry_s)
            while time.monotonic() < retry_at:
                if (got := self.first(key)) is not None:
                    return got[1]
                time.sleep(0.005)
        raise GatewayError(
            f"no answer from any gateway of {self.deployment!r} within "
            f"{timeout:.1f} s; is 'vp-edge gateway --listen mqtt://...' running?"
        )

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> FleetClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
