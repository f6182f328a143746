"""Consistent Overhead Byte Stuffing: a zero-free encoding so that 0x00 can delimit frames.

``encode`` adds at most ``ceil(n/254)`` bytes (1 for n <= 254); the delimiter is added by the
caller (see ``frame.to_serial``). ``decode`` returns ``None`` on malformed input, never raises.
"""

from __future__ import annotations


def max_encoded_len(n: int) -> int:
    """Worst-case COBS size of an n-byte input, without the 0x00 delimiter."""
    return n + (n + 253) // 254 if n else 1


def encode(data: bytes | bytearray | memoryview) -> bytes:
    """COBS-encode ``data`` (the result contains no 0x00 byte)."""
    src = bytes(data)
    out = bytearray([0])
    code_idx = 0
    code = 1
    for i, b in enumerate(src):
        if b:
            out.append(b)
            code += 1
        if not b or (code == 0xFF and i + 1 < len(src)):
            out[code_idx] = code
            code_idx = len(out)
            out.append(0)
            code = 1
    out[code_idx] = code
    return bytes(out)


def decode(data: bytes | bytearray | memoryview) -> bytes | None:
    """Decode one COBS block (no delimiter); ``None`` if it holds a 0x00 or a code overruns."""
    src = bytes(data)
    out = bytearray()
    i, n = 0, len(src)
    while i < n:
        code = src[i]
        if code == 0 or i + code > n:
            return None
        block = src[i + 1 : i + code]
        if 0 in block:
            return None
        out += block
        i += code
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)
