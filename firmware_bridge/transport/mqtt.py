"""``mqtt://HOST:PORT/<deployment>/<board>`` and ``mqtts://``: one frame per MQTT message.

Topics (docs/protocol.md §8, docs/fleet.md)::

    vp/<deployment>/board/<id>/rx   frames to the board    (gateway publishes, board subscribes)
    vp/<deployment>/board/<id>/tx   frames from the board  (board publishes, gateway subscribes)

Frames travel unchanged: authentication and replay protection stay end to end, so the broker
is trusted with nothing but delivery. A URL may leave the board out (``mqtt://HOST/demo``);
``for_board`` completes it with the board id the caller knows. Options: ``qos`` (0 default,
like UDP: a lost frame is the deadline's business), ``ca`` (mqtts: CA file), ``auth`` (a file
with ``user:password``); otherwise ``VP_MQTT_USERNAME``/``VP_MQTT_PASSWORD`` from the
environment. The client (paho-mqtt 2.x, imported only here) reconnects with back-off by itself;
frames sent while the broker is away are dropped and counted, as a radio would drop them.
"""

from __future__ import annotations

import os
import queue
import re
import socket
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

from .base import Link, LinkError, LinkSpec

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
FORM = "mqtt://HOST[:PORT]/DEPLOYMENT[/BOARD_ID][?qos=0|1&auth=FILE&ca=FILE] (or mqtts://)"
OPTIONS = ("qos", "auth", "ca")
RECONNECT_S = (0.2, 5.0)  # back-off: first retry, longest wait
QUEUE_MAX = 4096  # frames waiting for recv(); beyond that new ones are dropped (inbox_full)


def topic(deployment: str, board: int | str, direction: str) -> str:
    """``vp/<deployment>/board/<id>/<rx|tx>`` (rx: to the board, tx: from it)."""
    return f"vp/{deployment}/board/{board}/{direction}"


def _split(url: str, parts: SplitResult) -> tuple[str, str | None]:
    names = [p for p in parts.path.split("/") if p]
    if not 1 <= len(names) <= 2 or not all(_NAME.match(n) for n in names):
        raise LinkError(f"link {url!r}: expected {FORM}")
    board = names[1] if len(names) == 2 else None
    if board is not None and not (board.isdigit() and int(board) < 65536):
        raise LinkError(f"link {url!r}: board id {board!r} must be 0..65535")
    return names[0], board


def parse(url: str, parts: SplitResult, opts: dict[str, str]) -> LinkSpec:
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        port = 0
    unknown = sorted(set(opts) - set(OPTIONS))
    if not parts.hostname or not port or unknown:
        extra = f" (unknown option {', '.join(unknown)})" if unknown else ""
        raise LinkError(f"link {url!r}: expected {FORM}{extra}")
    if opts.get("qos", "0") not in ("0", "1"):
        raise LinkError(f"link {url!r}: qos must be 0 or 1")
    if "ca" in opts and parts.scheme != "mqtts":
        raise LinkError(f"link {url!r}: ca= needs mqtts://")
    _split(url, parts)
    return LinkSpec(url, parts.scheme, parts.hostname, port, parts.path, opts)


def for_board(url: str, board_id: int) -> str:
    """The URL with the board id completed (unchanged when it already names one)."""
    parts = urlsplit(url)
    if _split(url, parts)[1] is not None:
        return url
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/{board_id}"))


def credentials(spec: LinkSpec) -> tuple[str | None, str | None]:
    """Username and password: ``auth=FILE`` (``user:password``), else the environment."""
    path = spec.options.get("auth")
    if path is None:
        return os.environ.get("VP_MQTT_USERNAME"), os.environ.get("VP_MQTT_PASSWORD")
    try:
        text = Path(path).read_text().strip()
    except OSError as e:
        raise LinkError(f"link {spec.url}: cannot read auth file {path}: {e.strerror}") from None
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise LinkError(f"link {spec.url}: auth file {path} must hold user:password")
    return user, password


def new_client(spec: LinkSpec, client_id: str, on_connect: Any, on_message: Any = None) -> Any:
    """A started paho-mqtt 2.x client (MQTT 5) that reconnects by itself."""
    try:
        import paho.mqtt.client as paho
    except ImportError:
        raise LinkError(
            f"link {spec.url}: needs paho-mqtt (pip install 'vp-edge[fleet]')"
        ) from None
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    user, password = credentials(spec)
    if user is not None:
        c.username_pw_set(user, password)
    if spec.scheme == "mqtts":
        try:
            c.tls_set(ca_certs=spec.options.get("ca"))
        except (OSError, ValueError) as e:
            raise LinkError(f"link {spec.url}: TLS set-up failed: {e}") from None
    c.reconnect_delay_set(*RECONNECT_S)  # type: ignore[arg-type]  # paho annotates int, uses float

    def connected(client: Any, *args: Any) -> None:
        _no_delay(client)
        on_connect(client, *args)

    c.on_connect = connected
    if on_message is not None:
        c.on_message = on_message
    try:
        c.connect_async(spec.host, spec.port, keepalive=10)
    except (OSError, ValueError) as e:
        raise LinkError(f"link {spec.url}: cannot connect to the broker: {e}") from None
    c.loop_start()
    return c


def _no_delay(client: Any) -> None:
    """Small frames go out at once: without TCP_NODELAY a second chunk waits for the delayed
    ACK of the first (about 40 ms on Linux)."""
    sock = client.socket()
    if sock is not None and hasattr(sock, "setsockopt"):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


def open(spec: LinkSpec, *, server: bool, pty_dir: Path | None, wait_s: float) -> Link:
    return MqttLink(spec, server)


class MqttLink(Link):
    """One board's two topics. Gateway: publishes rx, reads tx. Board (server): the reverse."""

    framing = "datagram"

    def __init__(self, spec: LinkSpec, server: bool) -> None:
        super().__init__(spec.url)
        deployment, board = _split(spec.url, urlsplit(spec.url))
        if board is None:
            raise LinkError(f"link {spec.url!r}: name the board (…/{deployment}/<id>)")
        self.qos = int(spec.options.get("qos", "0"))
        mine, theirs = ("rx", "tx") if server else ("tx", "rx")
        self.sub_topic = topic(deployment, board, mine)
        self.pub_topic = topic(deployment, board, theirs)
        self.inbox: queue.Queue[bytes] = queue.Queue(QUEUE_MAX)
        self.counts = {"connects": 0, "sent_while_down": 0, "inbox_full": 0}
        self.connected = False
        role = "board" if server else "gw"
        self.client = new_client(
            spec,
            f"vp-{role}-{deployment}-{board}-{uuid.uuid4().hex[:8]}",
            self._on_connect,
            self._on_message,
        )
        self.client.on_disconnect = self._on_disconnect

    def _on_connect(self, client: Any, _u: object, _f: object, reason: Any, _p: object) -> None:
        if reason.is_failure:
            return  # paho retries with back-off
        self.connected = True
        self.counts["connects"] += 1
        client.subscribe(self.sub_topic, qos=self.qos)

    def _on_disconnect(self, *_: object) -> None:
        self.connected = False

    def _on_message(self, _c: object, _u: object, msg: Any) -> None:
        try:
            self.inbox.put_nowait(bytes(msg.payload))
        except queue.Full:
            self.counts["inbox_full"] += 1

    def send(self, data: bytes) -> None:
        if not self.connected or self.client is None:
            self.counts["sent_while_down"] += 1
            return  # the deadline answers for it, as for a lost datagram
        self.client.publish(self.pub_topic, data, qos=self.qos)
        self.bytes_sent += len(data)

    def recv(self, timeout: float) -> bytes:
        try:
            data = self.inbox.get(timeout=max(timeout, 1e-3))
        except queue.Empty:
            return b""
        self.bytes_received += len(data)
        return data

    def close(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            client.disconnect()
            client.loop_stop()
