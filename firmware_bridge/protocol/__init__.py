"""The vp-edge wire protocol (docs/protocol.md): frames, COBS, CRC-32C, messages, counters,
keys, chunking, the top-k rule, the request/response session, and the C header generated from
these definitions (``c/`` holds the C twin of this codec, ``vp_proto.h``).

Importing this package gives the message types and constants (what ``firmware_bridge.protocol``
held when it was one module); each part is its own module: ``messages`` and ``load_messages``
(the dataclasses), ``catalog`` (the table of types, ``unpack_message``), ``defs`` (constants),
``frame``, ``cobs``, ``crc``, ``counter``, ``keys``, ``chunk``, ``topk``, ``session``,
``cheader``, ``samples``.
"""

from .catalog import (
    CHUNKED,
    FROM_GATEWAY_TYPES,
    MESSAGES,
    VARIABLE,
    Message,
    result_frame_size,
    unpack_message,
)
from .defs import (
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
from .load_messages import LoadAck, LoadBegin, LoadChunk, LoadCommit, Readback, ReadbackReply
from .messages import Error, Heartbeat, Hello, Infer, InferStage, Probe, Result, Tensor

__all__ = [
    "BoardKind",
    "CHUNKED",
    "CRC_SIZE",
    "DROP_REASONS",
    "Error",
    "FROM_GATEWAY_TYPES",
    "Flag",
    "HEADER_FMT",
    "HEADER_SIZE",
    "Heartbeat",
    "Hello",
    "INFER_CHUNK_HEADER",
    "INFER_STAGE_CHUNK_HEADER",
    "Infer",
    "InferStage",
    "LOAD_CHUNK_HEADER",
    "LoadAck",
    "LoadBegin",
    "LoadChunk",
    "LoadCommit",
    "MAGIC",
    "MAX_FRAME",
    "MAX_K",
    "MAX_NAME",
    "MESSAGES",
    "Message",
    "MsgType",
    "Probe",
    "Readback",
    "ReadbackReply",
    "Result",
    "SLOT_ACTIVE",
    "STATUS_TEXT",
    "Status",
    "TAG_SIZE",
    "TENSOR_CHUNK_HEADER",
    "Tensor",
    "VARIABLE",
    "VERSION",
    "result_frame_size",
    "unpack_message",
]
