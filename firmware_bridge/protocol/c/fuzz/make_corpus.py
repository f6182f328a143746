"""Write the seed corpus of fuzz_decode.c.

Run ``python firmware_bridge/protocol/c/fuzz/make_corpus.py``.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

from firmware_bridge.protocol import FROM_GATEWAY_TYPES, HEADER_FMT, MAGIC, VERSION
from firmware_bridge.protocol.counter import Counter
from firmware_bridge.protocol.frame import Sender, encode_frame
from firmware_bridge.protocol.samples import sample_messages

KEY = b"fuzz-deploy-key!"


def seeds() -> dict[str, bytes]:
    """Seed name -> input (first byte = fuzz mode, see fuzz_decode.c)."""
    out: dict[str, bytes] = {}
    boards = Sender(KEY, Counter(1), board_id=3)
    gw = Sender(KEY, Counter(1), board_id=3, from_gateway=True)
    stream = b"\x00garbage\x00"
    for msg in sample_messages():
        name = msg.TYPE.name.lower()
        gateway = msg.TYPE in FROM_GATEWAY_TYPES
        if not gateway:
            stream += boards.serial(msg, request_id=7)
        else:
            out[f"dgram_{name}"] = b"\x01" + gw.frame(msg, request_id=7)
        payload = msg.pack()
        head = struct.pack(
            HEADER_FMT, MAGIC, VERSION, msg.TYPE, 2 if gateway else 0, 3, 7, len(payload), 5
        )
        out[f"struct_{name}"] = b"\x02" + head + payload
        out[f"insecure_{name}"] = b"\x03" + head + payload
    out["stream_all"] = b"\x00" + stream
    out["insecure_dgram"] = b"\x01" + encode_frame(
        sample_messages()[1], board_id=3, request_id=1, counter=1, key=None
    )
    out["cobs"] = b"\x04" + bytes(300) + b"\x01" * 300
    return out


def main() -> int:
    d = Path(__file__).resolve().parent / "corpus"
    d.mkdir(exist_ok=True)
    for name, data in seeds().items():
        (d / name).write_bytes(data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
