"""CRC-32C (Castagnoli), reflected poly 0x82F63B78, init and xorout 0xFFFFFFFF.

Table-driven, stdlib only. ``crc32c(b"123456789") == 0xE3069283`` (the standard check value).
Pass the previous result as ``crc`` to continue over several buffers.
"""

from __future__ import annotations

POLY = 0x82F63B78
CHECK = 0xE3069283


def _make_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ POLY if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


TABLE = _make_table()


def crc32c(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """Return the CRC-32C of ``data``, continuing from a previous ``crc`` (0 to start)."""
    c = crc ^ 0xFFFFFFFF
    table = TABLE
    for b in bytes(data):
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
