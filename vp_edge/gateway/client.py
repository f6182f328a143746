"""The reference client of a gateway (``udp://``) or a fleet (``mqtt://``): one image, one
JSON answer (``vp-edge classify``). The protocol is in ``vp_edge.gateway.udp_server``."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path

from firmware_bridge.transport import parse_link
from vp_edge.errors import GatewayError, GatewayTimeout
from vp_edge.gateway.front import IMAGE_MAGIC, PROTOCOL_VERSION, Limits

MAX_REQUEST = Limits.max_bytes


def classify_remote(url: str, image: bytes, timeout: float = 5.0, req_id: object = 1) -> dict:
    """Send one image file's bytes to a gateway (udp://) or a fleet (mqtt://); its JSON answer."""
    spec = parse_link(url)
    if spec.scheme in ("mqtt", "mqtts"):
        from vp_edge.gateway.fleet_client import FleetClient

        with FleetClient(url) as client:
            return client.classify(image, timeout)
    if spec.scheme != "udp":
        raise GatewayError(
            f"--gateway {url}: expected udp://HOST:PORT or mqtt://BROKER:1883/DEPLOYMENT"
        )
    body = json.dumps(
        {"v": PROTOCOL_VERSION, "id": req_id, "image": base64.b64encode(image).decode()}
    ).encode()
    if len(body) > MAX_REQUEST:
        raise GatewayError(
            f"image too large for one request ({len(body)} > {MAX_REQUEST} bytes)"
            "; send a smaller PNG/JPEG"
        )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.connect((spec.host, spec.port))
            s.send(body)
            data = s.recv(65536)
        except TimeoutError:
            raise GatewayTimeout(
                f"no answer from the gateway at {url} within {timeout:.1f} s; "
                "is 'vp-edge gateway --listen' running?"
            ) from None
        except ConnectionRefusedError:
            raise GatewayError(
                f"nothing listens at {url}; is 'vp-edge gateway --listen' running?"
            ) from None
        except OSError as e:
            raise GatewayError(f"gateway {url}: {e.strerror}") from None
    try:
        return json.loads(data)
    except ValueError:
        raise GatewayError(f"gateway {url} answered something that is not JSON") from None


def check_gateway_url(url: str) -> None:
    """A ``--gateway`` the client can reach: udp://HOST:PORT or an mqtt(s):// fleet
    (``UsageError`` otherwise, before any image is read)."""
    from vp_edge.errors import UsageError, VpEdgeError

    try:
        scheme = parse_link(url).scheme
    except VpEdgeError as e:
        raise UsageError(f"--gateway: {e}") from None
    if scheme not in ("udp", "mqtt", "mqtts"):
        raise UsageError(
            f"--gateway {url}: expected udp://HOST:PORT or mqtt://BROKER:1883/DEPLOYMENT"
        )


def read_image(path: Path) -> bytes:
    """One image file's bytes, bounded as one request; a ``DataError`` for an unreadable file
    or one that is not PNG, JPEG or BMP (checked here, not after a round trip)."""
    from firmware_bridge.files import read_limited
    from vp_edge.errors import DataError

    try:
        data = read_limited(path, MAX_REQUEST, f"image {path}")
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror}") from None
    if not data.startswith(IMAGE_MAGIC):
        raise DataError(
            f"{path} is not a PNG, JPEG or BMP file (it starts with "
            f"{data[:8]!r}); give an image file"
        )
    return data


def classify_file(url: str, path: Path, timeout: float = 5.0) -> dict:
    """``vp-edge classify``: the checked URL and image sent, the gateway's answer; a reply that
    is not ok is a ``GatewayError`` carrying the gateway's own message."""
    check_gateway_url(url)
    reply = classify_remote(url, read_image(path), timeout, str(path))
    if not reply.get("ok"):
        raise GatewayError(f"gateway: {reply.get('error')}")
    return reply
