"""Every message type in one table: which are variable-length, chunked or sent by the gateway,
and ``unpack_message`` that maps a frame's type byte to its dataclass (the C header is generated
from these tables by ``cheader.py``)."""

from __future__ import annotations

from typing import Any

from ..errors import ProtocolError
from .defs import (
    CRC_SIZE,
    HEADER_SIZE,
    TAG_SIZE,
    MsgType,
)
from .load_messages import LoadAck, LoadBegin, LoadChunk, LoadCommit, Readback, ReadbackReply
from .messages import Error, Heartbeat, Hello, Infer, InferStage, Probe, Result, Tensor

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
