"""The LOAD session's messages (docs/protocol.md §3): LOAD_BEGIN, LOAD_CHUNK, LOAD_COMMIT,
LOAD_ACK, READBACK and its reply, with which a gateway puts a model into a board's inactive slot
and reads back what the board holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import ProtocolError
from .defs import (
    SLOT_ACTIVE,
    MsgType,
    Status,
)
from .payload import check_digest, pack_fmt, split_head, to_status, unpack_fmt


@dataclass(frozen=True)
class LoadBegin:
    """Gateway -> board: start a model-load session (session id = header request id)."""

    TYPE: ClassVar[MsgType] = MsgType.LOAD_BEGIN
    FMT: ClassVar[str] = "<IB3x32s32s"
    size: int
    slot: int
    sha256: bytes
    hmac_sha256: bytes  # full HMAC-SHA256(deployment key, artefact)

    def pack(self) -> bytes:
        if self.size == 0:
            raise ProtocolError("LOAD_BEGIN size must be > 0")
        return pack_fmt(
            self.FMT,
            self.size,
            self.slot,
            check_digest(self.sha256, "sha256"),
            check_digest(self.hmac_sha256, "hmac_sha256"),
        )

    @classmethod
    def unpack(cls, payload: bytes) -> LoadBegin:
        size, slot, sha, tag = unpack_fmt(cls.FMT, payload, "LOAD_BEGIN")
        if size == 0:
            raise ProtocolError("LOAD_BEGIN: size 0")
        return cls(size, slot, sha, tag)


@dataclass(frozen=True)
class LoadChunk:
    """Gateway -> board: artefact bytes at ``offset`` with their own CRC-32C."""

    TYPE: ClassVar[MsgType] = MsgType.LOAD_CHUNK
    FMT: ClassVar[str] = "<II"
    offset: int
    crc32c: int
    data: bytes

    def pack(self) -> bytes:
        if not self.data:
            raise ProtocolError("LOAD_CHUNK needs at least one byte")
        return pack_fmt(self.FMT, self.offset, self.crc32c) + bytes(self.data)

    @classmethod
    def unpack(cls, payload: bytes) -> LoadChunk:
        (off, crc), data = split_head(cls.FMT, payload, "LOAD_CHUNK")
        if not data:
            raise ProtocolError("LOAD_CHUNK: no data")
        return cls(off, crc, bytes(data))


@dataclass(frozen=True)
class LoadCommit:
    """Gateway -> board: verify SHA-256 and HMAC of the written slot; activate it if asked."""

    TYPE: ClassVar[MsgType] = MsgType.LOAD_COMMIT
    FMT: ClassVar[str] = "<B"
    activate: bool = True

    def pack(self) -> bytes:
        return pack_fmt(self.FMT, int(self.activate))

    @classmethod
    def unpack(cls, payload: bytes) -> LoadCommit:
        (act,) = unpack_fmt(cls.FMT, payload, "LOAD_COMMIT")
        if act > 1:
            raise ProtocolError("LOAD_COMMIT: activate must be 0 or 1")
        return cls(bool(act))


@dataclass(frozen=True)
class LoadAck:
    """Board -> gateway: answer to LOAD_BEGIN/LOAD_CHUNK/LOAD_COMMIT (``acked``)."""

    TYPE: ClassVar[MsgType] = MsgType.LOAD_ACK
    FMT: ClassVar[str] = "<BxHI"
    acked: MsgType
    status: Status
    next_offset: int = 0  # bytes written contiguously so far: where to resume

    def pack(self) -> bytes:
        return pack_fmt(self.FMT, self.acked, self.status, self.next_offset)

    @classmethod
    def unpack(cls, payload: bytes) -> LoadAck:
        acked, status, nxt = unpack_fmt(cls.FMT, payload, "LOAD_ACK")
        if acked not in (MsgType.LOAD_BEGIN, MsgType.LOAD_CHUNK, MsgType.LOAD_COMMIT):
            raise ProtocolError(f"LOAD_ACK: acked type {acked}")
        return cls(MsgType(acked), to_status(status), nxt)


@dataclass(frozen=True)
class Readback:
    """Gateway -> board: report size and SHA-256 of ``slot`` (0xFF: the active one)."""

    TYPE: ClassVar[MsgType] = MsgType.READBACK
    FMT: ClassVar[str] = "<B"
    slot: int = SLOT_ACTIVE

    def pack(self) -> bytes:
        return pack_fmt(self.FMT, self.slot)

    @classmethod
    def unpack(cls, payload: bytes) -> Readback:
        return cls(*unpack_fmt(cls.FMT, payload, "READBACK"))


@dataclass(frozen=True)
class ReadbackReply:
    """Board -> gateway: SHA-256 computed over the slot's bytes as stored in flash."""

    TYPE: ClassVar[MsgType] = MsgType.READBACK_REPLY
    FMT: ClassVar[str] = "<BxHI32s"
    slot: int
    status: Status
    size: int
    sha256: bytes

    def pack(self) -> bytes:
        return pack_fmt(
            self.FMT, self.slot, self.status, self.size, check_digest(self.sha256, "sha256")
        )

    @classmethod
    def unpack(cls, payload: bytes) -> ReadbackReply:
        slot, status, size, sha = unpack_fmt(cls.FMT, payload, "READBACK_REPLY")
        return cls(slot, to_status(status), size, sha)
