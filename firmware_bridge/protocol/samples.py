"""One valid example of every message type: shared by tests, the C cross-checks and fuzz seeds."""

from __future__ import annotations

import hashlib

from .catalog import Message
from .defs import BoardKind, MsgType, Status
from .load_messages import LoadAck, LoadBegin, LoadChunk, LoadCommit, Readback, ReadbackReply
from .messages import Error, Heartbeat, Hello, Infer, InferStage, Probe, Result, Tensor


def sample_messages() -> list[Message]:
    """Every message type once, with non-trivial field values."""
    sha = hashlib.sha256(b"model").digest()
    return [
        Hello(BoardKind.MCU, 5, 10, 3072, sha, "a035_r32_f256", 512, 0.00390625, -128),
        Probe(MsgType.HEARTBEAT),
        Heartbeat(3600, 120, 3, 118, 100, 1),
        Infer(1, 3, 1156, 3072, bytes(range(256)) * 4),
        Result(1834, ((3, 127), (7, -2), (1, -128), (9, 0), (0, -40))),
        Error(Status.BAD_INPUT_SIZE, 3072),
        Tensor(912, 1, 3, 1152, 3136, bytes(range(256)) * 4 + bytes(range(128))),
        InferStage(1, 0, 2, 0, 1600, bytes(range(200)) * 5),
        LoadBegin(40_000, 1, sha, hashlib.sha256(b"tag").digest()),
        LoadChunk(1024, 0x1234ABCD, b"\x00\x01\xff" * 100),
        LoadCommit(True),
        LoadAck(MsgType.LOAD_CHUNK, Status.OK, 2048),
        Readback(),
        ReadbackReply(0xFF, Status.OK, 40_000, sha),
    ]
