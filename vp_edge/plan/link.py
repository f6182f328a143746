"""Link time of one request: the INFER frames of the input and the RESULT back, as encoded.

Bytes come from the protocol's own encoder (``firmware_bridge``: chunking, header, tag, CRC; on
serial links COBS's worst case and the 0x00 delimiter), so the framing cannot drift from the wire.
A serial byte costs 10 bit times at the link's baud (8N1). Over Ethernet or Wi-Fi the bytes cost
little; a fixed latency per datagram dominates (``NETWORK``, an assumption written down here).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import firmware_bridge as fb
from firmware_bridge.protocol import Result
from firmware_bridge.protocol.chunk import split_infer
from firmware_bridge.protocol.cobs import max_encoded_len
from firmware_bridge.protocol.frame import encode_frame

SERIAL_BITS_PER_BYTE = 10  # start + 8 data + stop
#: network links: bits per second and a one-way latency per datagram (switch, stack, wake-up)
NETWORK = {"ethernet": (100e6, 0.2e-3), "wifi": (20e6, 2e-3)}
_KEY = bytes(16)  # any key: only the tag's length matters


@dataclass(frozen=True)
class LinkCost:
    infer_bytes: int
    result_bytes: int
    frames: int
    seconds: float


def _frames(msgs: list, board_id: int) -> list[bytes]:
    return [encode_frame(m, board_id=board_id, request_id=1, counter=1, key=_KEY) for m in msgs]


@cache
def link_cost(
    input_bytes: int, k: int, link: str, baud: int | None, max_frame: int = fb.MAX_FRAME
) -> LinkCost:
    """Seconds on the wire for one INFER of ``input_bytes`` and its RESULT of ``k`` pairs.

    ``link``: the profile's link ("uart", "ethernet", "wifi"); ``baud`` for "uart".
    """
    infer = _frames(split_infer(bytes(input_bytes), max_frame=max_frame), 1)
    result = _frames([Result(0, tuple((i, 0) for i in range(k)))], 1)
    if link == "uart":
        if not baud:
            raise ValueError("a serial link needs a baud rate")
        wire = [max_encoded_len(len(f)) + 1 for f in infer + result]  # COBS worst case + 0x00
        n_in, n_out = sum(wire[: len(infer)]), sum(wire[len(infer) :])
        return LinkCost(n_in, n_out, len(wire), (n_in + n_out) * SERIAL_BITS_PER_BYTE / baud)
    bps, latency = NETWORK.get(link, NETWORK["ethernet"])
    n_in, n_out = sum(map(len, infer)), sum(map(len, result))
    seconds = (n_in + n_out) * 8 / bps + latency * 2  # out and back
    return LinkCost(n_in, n_out, len(infer) + len(result), seconds)
