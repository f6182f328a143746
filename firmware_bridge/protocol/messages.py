"""Message definitions of the vp-edge wire protocol: the single source of truth.

Every message is a frozen dataclass with ``pack() -> bytes`` (the payload) and
``unpack(payload) -> message`` (raises ``ProtocolError`` on a malformed payload). This module
holds the discovery and inference messages; the LOAD session's are in ``load_messages.py`` and
the table of all of them in ``catalog.py``. The frame around a payload (header, tag, CRC) is in
``frame.py``; ``cheader.py`` turns the constants and tables into ``c/vp_proto_defs.h``. Layouts
are little-endian and described in docs/protocol.md.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, fields
from typing import ClassVar

from ..errors import ProtocolError
from .defs import (
    MAX_FRAME,
    MAX_K,
    MAX_NAME,
    BoardKind,
    MsgType,
    Status,
)
from .payload import check_digest, pack_fmt, split_head, to_status, unpack_fmt

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
        sha = check_digest(self.model_sha256, "model_sha256")
        return (
            pack_fmt(
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
        (kind, k, nc, ib, mf, zp, scale, sha, nlen), rest = split_head(cls.FMT, payload, "HELLO")
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
        return pack_fmt(self.FMT, self.want)

    @classmethod
    def unpack(cls, payload: bytes) -> Probe:
        (want,) = unpack_fmt(cls.FMT, payload, "PROBE")
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
        return pack_fmt(
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
        return cls(*unpack_fmt(cls.FMT, payload, "HEARTBEAT"))


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
        return pack_fmt(self.FMT, *head) + bytes(self.data)

    @classmethod
    def unpack(cls, payload: bytes):
        head, data = split_head(cls.FMT, payload, cls.TYPE.name)
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
        split_head(cls.FMT, payload, "INFER_STAGE")
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
        body = b"".join(pack_fmt("<Hb", c, s) for c, s in self.pairs)
        return pack_fmt(self.FMT, self.compute_us, len(self.pairs)) + body

    @classmethod
    def unpack(cls, payload: bytes) -> Result:
        (us, k), rest = split_head(cls.FMT, payload, "RESULT")
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
        return pack_fmt(self.FMT, self.status, self.detail)

    @classmethod
    def unpack(cls, payload: bytes) -> Error:
        status, detail = unpack_fmt(cls.FMT, payload, "ERROR")
        return cls(to_status(status), detail)
