"""The reference client of a gateway (``udp://``) or a fleet (``mqtt://``): one image, one
JSON answer (``vp-edge classify``). The protocol is in ``vp_edge.gateway.udp_server``."""

from __future__ import annotations

import base64
import json
import socket

from firmware_bridge.transport import parse_link
from vp_edge.errors import GatewayError, GatewayTimeout
from vp_edge.gateway.front import PROTOCOL_VERSION, Limits

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
