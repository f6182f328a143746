"""Packing helpers every message shares: a struct layout with errors that say which message and
why, so each message type's ``pack``/``unpack`` stays one line per field group."""

from __future__ import annotations

import struct

from ..errors import ProtocolError
from .defs import Status


def pack_fmt(fmt: str, *values: object) -> bytes:
    try:
        return struct.pack(fmt, *values)
    except struct.error as exc:
        raise ProtocolError(f"cannot pack {values!r} as {fmt}: {exc}") from exc


def unpack_fmt(fmt: str, payload: bytes, what: str) -> tuple:
    size = struct.calcsize(fmt)
    if len(payload) != size:
        raise ProtocolError(f"{what}: payload is {len(payload)} bytes, expected {size}")
    return struct.unpack(fmt, payload)


def split_head(fmt: str, payload: bytes, what: str) -> tuple[tuple, bytes]:
    n = struct.calcsize(fmt)
    if len(payload) < n:
        raise ProtocolError(f"{what}: payload is {len(payload)} bytes, at least {n} expected")
    return struct.unpack(fmt, payload[:n]), payload[n:]


def check_digest(value: bytes, what: str) -> bytes:
    if len(value) != 32:
        raise ProtocolError(f"{what} must be 32 bytes, got {len(value)}")
    return value


def to_status(value: int) -> Status:
    try:
        return Status(value)
    except ValueError as exc:
        raise ProtocolError(f"unknown status {value}") from exc
