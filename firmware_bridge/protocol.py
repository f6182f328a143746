"""Message definitions of the vp-edge wire protocol: the single source of truth.

Every message is a frozen dataclass with ``pack() -> bytes`` (the payload) and
``unpack(payload) -> message`` (raises ``ProtocolError`` on a malformed payload). The frame around
a payload (header, tag, CRC) is in ``frame.py``; ``cheader.py`` turns the constants and tables
here into ``c/vp_proto_defs.h``. Layouts are little-endian and described in docs/protocol.md.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from .defs import (  # noqa: F401  (re-exported: protocol.py is the public face)
    CRC_SIZE,
    DROP_REASONS,
    HEADER_FMT,
    HEADER_SIZE,
    INFER_CHUNK_HEADER,
    INFER_STAGE_CHUNK_HEADER,
    LOAD_CHUNK_HEADER,
    MAGIC,
    MAX_FRAME,
    MAX_K,
    MAX_NAME,
    SLOT_ACTIVE,
    STATUS_TEXT,
    TAG_SIZE,
    TENSOR_CHUNK_HEADER,
    VERSION,
    BoardKind,
    Flag,
    MsgType,
    Status,
)
from .errors import ProtocolError


def _pack(fmt: str, *values: object) -> bytes:
    try:
        return struct.pack(fmt, *values)
    except struct.error as exc:
        raise ProtocolError(f"cannot pack {values!r} as {fmt}: {exc}") from exc


def _unpack(fmt: str, payload: bytes, what: str) -> tuple:
    size = struct.calcsize(fmt)
    if len(payload) != size:
        raise ProtocolError(f"{what}: payload is {len(payload)} bytes, expected {size}")
    return struct.unpack(fmt, payload)


def _head(fmt: str, payload: bytes, what: str) -> tuple[tuple, bytes]:
    n = struct.calcsize(fmt)
    if len(payload) < n:
        raise ProtocolError(f"{what}: payload is {len(payload)} bytes, at least {n} expected")
    return struct.unpack(fmt, payload[:n]), payload[n:]


def _digest(value: bytes, what: str) -> bytes:
    if len(value) != 32:
        raise ProtocolError(f"{what} must be 32 bytes, got {len(value)}")
    return value


_KINDS = frozenset(int(k) for k in BoardKind)


def _printable(name: bytes) -> bool:
    return all(0x20 <= b <= 0x7E for b in name)


@dataclass(frozen=True)
class Hello:
    """Board -> gateway at boot and on PROBE: who the board is and what its model needs.

    ``k`` = 0: the board answers INFER with TENSOR (its whole int8 output), not RESULT.
    """

    TYPE: ClassVar[MsgType] = MsgType.HELLO
    FMT: ClassVar[str] = "<BBHIHbxf32sB"
    board_kind: BoardKind
    k: int
    num_classes: int
    input_bytes: int
    model_sha256: bytes
    variant: str
    max_frame: int = MAX_FRAME
    score_scale: float = 1.0  # output quantization, so the gateway can dequantize int8 scores
    score_zero_point: int = 0

    def pack(self) -> bytes:
        name = self.variant.encode()
        if len(name) > MAX_NAME or not _printable(name):
            raise ProtocolError(f"variant {self.variant!r}: at most {MAX_NAME} printable ASCII")
        if not 0 <= self.k <= MAX_K:
            raise ProtocolError(f"k={self.k} outside 0..{MAX_K} (0: the board answers TENSOR)")
        sha = _digest(self.model_sha256, "model_sha256")
        return (
            _pack(
                self.FMT,
                self.board_kind,
                self.k,
                self.num_classes,
                self.input_bytes,
                self.max_frame,
                self.score_zero_point,
                self.score_scale,
                sha,
                len(name),
            )
            + name
        )

    @classmethod
    def unpack(cls, payload: bytes) -> Hello:
        (kind, k, nc, ib, mf, zp, scale, sha, nlen), rest = _head(cls.FMT, payload, "HELLO")
        if len(rest) != nlen or nlen > MAX_NAME or not 0 <= k <= MAX_K:
            raise ProtocolError("HELLO: bad name length or k")
        if not _printable(rest) or kind not in _KINDS:
            raise ProtocolError("HELLO: variant name not printable ASCII, or unknown board kind")
        return cls(BoardKind(kind), k, nc, ib, sha, rest.decode(), mf, scale, zp)


@dataclass(frozen=True)
class Probe:
    """Gateway -> board: please send ``want`` (HELLO or HEARTBEAT) now."""

    TYPE: ClassVar[MsgType] = MsgType.PROBE
    FMT: ClassVar[str] = "<B"
    want: MsgType = MsgType.HELLO

    def pack(self) -> bytes:
        if self.want not in (MsgType.HELLO, MsgType.HEARTBEAT):
            raise ProtocolError(f"PROBE can ask for HELLO or HEARTBEAT, not {self.want!r}")
        return _pack(self.FMT, self.want)

    @classmethod
    def unpack(cls, payload: bytes) -> Probe:
        (want,) = _unpack(cls.FMT, payload, "PROBE")
        if want not in (MsgType.HELLO, MsgType.HEARTBEAT):
            raise ProtocolError(f"PROBE: cannot ask for type {want}")
        return cls(MsgType(want))


@dataclass(frozen=True)
class Heartbeat:
    """Board -> gateway, periodically or on PROBE: liveness and the board's own counters."""

    TYPE: ClassVar[MsgType] = MsgType.HEARTBEAT
    FMT: ClassVar[str] = "<6I"
    uptime_s: int
    rx_ok: int = 0
    rx_dropped: int = 0
    tx: int = 0
    inferences: int = 0
    errors: int = 0

    def pack(self) -> bytes:
        return _pack(
            self.FMT,
            self.uptime_s,
            self.rx_ok,
            self.rx_dropped,
            self.tx,
            self.inferences,
            self.errors,
        )

    @classmethod
    def unpack(cls, payload: bytes) -> Heartbeat:
        return cls(*_unpack(cls.FMT, payload, "HEARTBEAT"))


def _check_chunk(what: str, index: int, count: int, offset: int, total: int, data: bytes) -> None:
    """The chunk fields every chunked message (INFER, TENSOR, INFER_STAGE) shares."""
    if not (0 <= index < count and data and offset + len(data) <= total):
        raise ProtocolError(
            f"{what} chunk {index}/{count} at {offset}+{len(data)} of {total} is inconsistent"
        )


_CHUNK_FMT = "HHII"  # chunk_index, chunk_count, offset, total; the data follows


class _Chunked:
    """Packing of the chunked messages: ``FMT`` holds every dataclass field before ``data``
    (a leading field, if any, then the chunk fields); the data follows unframed."""

    TYPE: ClassVar[MsgType]
    FMT: ClassVar[str]
    chunk_index: int
    chunk_count: int
    offset: int
    total: int
    data: bytes

    def _check(self) -> None:
        _check_chunk(
            self.TYPE.name, self.chunk_index, self.chunk_count, self.offset, self.total, self.data
        )

    def pack(self) -> bytes:
        self._check()
        head = [getattr(self, f.name) for f in fields(self)[:-1]]  # type: ignore[arg-type]
        return _pack(self.FMT, *head) + bytes(self.data)

    @classmethod
    def unpack(cls, payload: bytes):
        head, data = _head(cls.FMT, payload, cls.TYPE.name)
        msg = cls(*head, bytes(data))  # type: ignore[call-arg]  # subclasses are dataclasses
        msg._check()
        return msg


@dataclass(frozen=True)
class Infer(_Chunked):
    """Gateway -> board: one chunk of the int8 input tensor (see ``chunk.split_infer``)."""

    TYPE: ClassVar[MsgType] = MsgType.INFER
    FMT: ClassVar[str] = "<" + _CHUNK_FMT
    chunk_index: int
    chunk_count: int
    offset: int
    total: int
    data: bytes


@dataclass(frozen=True)
class Tensor(_Chunked):
    """Board -> gateway: one chunk of the full int8 output (a board whose HELLO says k = 0).

    ``compute_us`` is the same in every chunk of one answer; chunks follow INFER's layout and
    rule (``chunk.split_chunks``), on the gateway's max frame.
    """

    TYPE: ClassVar[MsgType] = MsgType.TENSOR
    FMT: ClassVar[str] = "<I" + _CHUNK_FMT
    compute_us: int
    chunk_index: int
    chunk_count: int
    offset: int
    total: int
    data: bytes


@dataclass(frozen=True)
class InferStage(_Chunked):
    """Gateway -> board: INFER for stage ``stage`` of a multi-stage part (stage 0 == INFER)."""

    TYPE: ClassVar[MsgType] = MsgType.INFER_STAGE
    FMT: ClassVar[str] = "<B3x" + _CHUNK_FMT
    stage: int
    chunk_index: int
    chunk_count: int
    offset: int
    total: int
    data: bytes

    @classmethod
    def unpack(cls, payload: bytes) -> InferStage:
        _head(cls.FMT, payload, "INFER_STAGE")
        if payload[1:4] != bytes(3):
            raise ProtocolError("INFER_STAGE: reserved bytes 1..3 must be 0")
        return super().unpack(payload)


@dataclass(frozen=True)
class Result:
    """Board -> gateway: top-k (class, raw int8 score) pairs for the header's request id."""

    TYPE: ClassVar[MsgType] = MsgType.RESULT
    FMT: ClassVar[str] = "<IB"
    compute_us: int
    pairs: tuple[tuple[int, int], ...]

    def pack(self) -> bytes:
        if not 1 <= len(self.pairs) <= MAX_K:
            raise ProtocolError(f"RESULT needs 1..{MAX_K} pairs, got {len(self.pairs)}")
        body = b"".join(_pack("<Hb", c, s) for c, s in self.pairs)
        return _pack(self.FMT, self.compute_us, len(self.pairs)) + body

    @classmethod
    def unpack(cls, payload: bytes) -> Result:
        (us, k), rest = _head(cls.FMT, payload, "RESULT")
        if not 1 <= k <= MAX_K or len(rest) != 3 * k:
            raise ProtocolError(f"RESULT: k={k} with {len(rest)} pair bytes")
        return cls(us, tuple(struct.iter_unpack("<Hb", rest)))


@dataclass(frozen=True)
class Error:
    """Board -> gateway: the request in the header failed with ``status``; ``detail`` is a hint."""

    TYPE: ClassVar[MsgType] = MsgType.ERROR
    FMT: ClassVar[str] = "<HI"
    status: Status
    detail: int = 0

    def pack(self) -> bytes:
        return _pack(self.FMT, self.status, self.detail)

    @classmethod
    def unpack(cls, payload: bytes) -> Error:
        status, detail = _unpack(cls.FMT, payload, "ERROR")
        return cls(_status(status), detail)


def _status(value: int) -> Status:
    try:
        return Status(value)
    except ValueError as exc:
        raise ProtocolError(f"unknown status {value}") from exc


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
        return _pack(
            self.FMT,
            self.size,
            self.slot,
            _digest(self.sha256, "sha256"),
            _digest(self.hmac_sha256, "hmac_sha256"),
        )

    @classmethod
    def unpack(cls, payload: bytes) -> LoadBegin:
        size, slot, sha, tag = _unpack(cls.FMT, payload, "LOAD_BEGIN")
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
        return _pack(self.FMT, self.offset, self.crc32c) + bytes(self.data)

    @classmethod
    def unpack(cls, payload: bytes) -> LoadChunk:
        (off, crc), data = _head(cls.FMT, payload, "LOAD_CHUNK")
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
        return _pack(self.FMT, int(self.activate))

    @classmethod
    def unpack(cls, payload: bytes) -> LoadCommit:
        (act,) = _unpack(cls.FMT, payload, "LOAD_COMMIT")
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
        return _pack(self.FMT, self.acked, self.status, self.next_offset)

    @classmethod
    def unpack(cls, payload: bytes) -> LoadAck:
        acked, status, nxt = _unpack(cls.FMT, payload, "LOAD_ACK")
        if acked not in (MsgType.LOAD_BEGIN, MsgType.LOAD_CHUNK, MsgType.LOAD_COMMIT):
            raise ProtocolError(f"LOAD_ACK: acked type {acked}")
        return cls(MsgType(acked), _status(status), nxt)


@dataclass(frozen=True)
class Readback:
    """Gateway -> board: report size and SHA-256 of ``slot`` (0xFF: the active one)."""

    TYPE: ClassVar[MsgType] = MsgType.READBACK
    FMT: ClassVar[str] = "<B"
    slot: int = SLOT_ACTIVE

    def pack(self) -> bytes:
        return _pack(self.FMT, self.slot)

    @classmethod
    def unpack(cls, payload: bytes) -> Readback:
        return cls(*_unpack(cls.FMT, payload, "READBACK"))


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
        return _pack(self.FMT, self.slot, self.status, self.size, _digest(self.sha256, "sha256"))

    @classmethod
    def unpack(cls, payload: bytes) -> ReadbackReply:
        slot, status, size, sha = _unpack(cls.FMT, payload, "READBACK_REPLY")
        return cls(slot, _status(status), size, sha)


Message = (
    Hello
    | Probe
    | Heartbeat
    | Infer
    | Result
    | Error
    | Tensor
    | InferStage
    | LoadBegin
    | LoadChunk
    | LoadCommit
    | LoadAck
    | Readback
    | ReadbackReply
)

VARIABLE = frozenset(
    {
        MsgType.HELLO,
        MsgType.INFER,
        MsgType.RESULT,
        MsgType.TENSOR,
        MsgType.INFER_STAGE,
        MsgType.LOAD_CHUNK,
    }
)
CHUNKED = frozenset({MsgType.INFER, MsgType.TENSOR, MsgType.INFER_STAGE})

MESSAGES: dict[MsgType, Any] = {  # each a message dataclass: FMT, pack, unpack
    cls.TYPE: cls
    for cls in (
        Hello,
        Probe,
        Heartbeat,
        Infer,
        Result,
        Error,
        Tensor,
        InferStage,
        LoadBegin,
        LoadChunk,
        LoadCommit,
        LoadAck,
        Readback,
        ReadbackReply,
    )
}

# Who may send each type: True = gateway -> board, False = board -> gateway.
FROM_GATEWAY_TYPES = frozenset(
    {
        MsgType.PROBE,
        MsgType.INFER,
        MsgType.INFER_STAGE,
        MsgType.LOAD_BEGIN,
        MsgType.LOAD_CHUNK,
        MsgType.LOAD_COMMIT,
        MsgType.READBACK,
    }
)


def unpack_message(msg_type: int, payload: bytes) -> Message:
    """Unpack ``payload`` as message type ``msg_type``; ``ProtocolError`` if it does not fit."""
    try:
        cls = MESSAGES[MsgType(msg_type)]
    except ValueError as exc:
        raise ProtocolError(f"unknown message type {msg_type}") from exc
    return cls.unpack(bytes(payload))


def result_frame_size(k: int, secure: bool = True) -> int:
    """Bytes of a RESULT frame with k pairs on UDP (before COBS)."""
    return HEADER_SIZE + 5 + 3 * k + (TAG_SIZE if secure else 0) + CRC_SIZE
