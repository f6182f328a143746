"""Chunking of tensors that do not fit one frame (INFER, TENSOR, INFER_STAGE: one layout, one
rule, ``split_chunks``), and their reassembly with a timeout (``Reassembler``).

Gateway::

    for chunk in split_infer(tensor, max_frame=hello.max_frame):
        sock.send(tx.frame(chunk, request_id=rid, board_id=board))

Board::

    reasm = Reassembler(timeout_s=1.0)
    tensor = reasm.add_frame(frame)     # bytes when the last missing chunk arrived, else None
    for board_id, rid in reasm.expire(): # incomplete requests past the timeout, dropped + counted
        ...answer ERROR(Status.REASSEMBLY_TIMEOUT)

Chunk rule (docs/protocol.md): every chunk but the last carries the same length L, chunk i sits at
offset i*L, the last one ends exactly at ``total``. The reassembler checks it, so chunks tile the
tensor with no gap or overlap.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import partial

from ..errors import ChunkError
from .defs import (
    CRC_SIZE,
    HEADER_SIZE,
    INFER_CHUNK_HEADER,
    INFER_STAGE_CHUNK_HEADER,
    MAX_FRAME,
    TAG_SIZE,
    TENSOR_CHUNK_HEADER,
)
from .frame import Frame
from .messages import Infer, InferStage, Tensor

ChunkMaker = Callable[[int, int, int, int, bytes], "Chunk"]
Chunk = Infer | Tensor | InferStage


def chunk_capacity(
    max_frame: int = MAX_FRAME, secure: bool = True, fixed: int = INFER_CHUNK_HEADER
) -> int:
    """Tensor bytes one chunk frame of at most ``max_frame`` bytes can carry, when the message's
    fixed payload part is ``fixed`` bytes (INFER 12; TENSOR and INFER_STAGE 16)."""
    return max_frame - HEADER_SIZE - CRC_SIZE - fixed - (TAG_SIZE if secure else 0)


def split_chunks(
    tensor: bytes,
    make: ChunkMaker,
    *,
    max_frame: int = MAX_FRAME,
    secure: bool = True,
    fixed: int = INFER_CHUNK_HEADER,
) -> list[Chunk]:
    """Split ``tensor`` into chunk messages ``make(index, count, offset, total, data)`` whose
    frames fit ``max_frame`` bytes (the one chunk rule of INFER, TENSOR and INFER_STAGE)."""
    data = bytes(tensor)
    size = chunk_capacity(max_frame, secure, fixed)
    if size < 1:
        raise ChunkError(f"max_frame {max_frame} leaves no room for tensor bytes")
    if not data or len(data) > 0xFFFFFFFF:
        raise ChunkError(f"tensor of {len(data)} bytes cannot be sent")
    count = -(-len(data) // size)
    if count > 0xFFFF:
        raise ChunkError(f"tensor needs {count} chunks, at most 65535")
    return [
        make(i, count, i * size, len(data), data[i * size : (i + 1) * size]) for i in range(count)
    ]


def split_infer(tensor: bytes, *, max_frame: int = MAX_FRAME, secure: bool = True) -> list[Infer]:
    """Split an int8 input tensor into INFER messages whose frames fit ``max_frame`` bytes."""
    return split_chunks(tensor, Infer, max_frame=max_frame, secure=secure)  # type: ignore[return-value]


def split_tensor(
    tensor: bytes, compute_us: int, *, max_frame: int = MAX_FRAME, secure: bool = True
) -> list[Tensor]:
    """A board's whole int8 output as TENSOR messages (each chunk its own frame)."""
    return split_chunks(
        tensor,
        partial(Tensor, compute_us),
        max_frame=max_frame,  # type: ignore[return-value]
        secure=secure,
        fixed=TENSOR_CHUNK_HEADER,
    )


def split_infer_stage(
    tensor: bytes, stage: int, *, max_frame: int = MAX_FRAME, secure: bool = True
) -> list[Infer] | list[InferStage]:
    """Input of ``stage``: plain INFER chunks for stage 0, INFER_STAGE chunks otherwise."""
    if stage == 0:
        return split_infer(tensor, max_frame=max_frame, secure=secure)
    return split_chunks(
        tensor,
        partial(InferStage, stage),
        max_frame=max_frame,  # type: ignore[return-value]
        secure=secure,
        fixed=INFER_STAGE_CHUNK_HEADER,
    )


@dataclass
class _Pending:
    total: int
    count: int
    started: float
    buf: bytearray
    stride: int | None = None
    last_offset: int | None = None
    got: set[int] = field(default_factory=set)
    nbytes: int = 0


class Reassembler:
    """Collects chunks per key ((board_id, request_id), plus the stage for INFER_STAGE); drops
    requests older than the timeout.

    ``stats``: completed, incomplete (timed out), evicted (too many pending), duplicate,
    inconsistent (chunk contradicts the request's earlier chunks), too_big.
    """

    def __init__(
        self,
        timeout_s: float = 1.0,
        *,
        max_total: int = 1 << 24,
        max_pending: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_total = max_total
        self.max_pending = max_pending
        self.clock = clock
        self._pending: OrderedDict[Hashable, _Pending] = OrderedDict()
        self._done: deque[Hashable] = deque(maxlen=64)
        self.stats = dict.fromkeys(
            ("completed", "incomplete", "evicted", "duplicate", "inconsistent", "too_big"), 0
        )

    def add_frame(self, frame: Frame, now: float | None = None) -> bytes | None:
        """``add`` keyed by the frame's (board_id, request_id), plus the stage for INFER_STAGE
        (``(board_id, request_id, stage)``); frames of other types give None."""
        msg = frame.msg
        if isinstance(msg, InferStage):
            return self.add((frame.board_id, frame.request_id, msg.stage), msg, now)
        if not isinstance(msg, Infer | Tensor):
            return None
        return self.add((frame.board_id, frame.request_id), msg, now)

    def add(self, key: Hashable, chunk: Chunk, now: float | None = None) -> bytes | None:
        """Store one chunk; return the whole tensor once every chunk is in."""
        now = self.clock() if now is None else now
        self.expire(now)
        if key in self._done:
            self.stats["duplicate"] += 1
            return None
        if chunk.total > self.max_total:
            self.stats["too_big"] += 1
            return None
        p = self._pending.get(key)
        if p is None:
            p = _Pending(chunk.total, chunk.chunk_count, now, bytearray(chunk.total))
            self._pending[key] = p
            while len(self._pending) > self.max_pending:
                self._pending.popitem(last=False)
                self.stats["evicted"] += 1
        if chunk.total != p.total or chunk.chunk_count != p.count:
            del self._pending[key]
            self.stats["inconsistent"] += 1
            return None
        if chunk.chunk_index in p.got:
            self.stats["duplicate"] += 1
            return None
        if not self._fits(p, chunk):
            del self._pending[key]
            self.stats["inconsistent"] += 1
            return None
        p.buf[chunk.offset : chunk.offset + len(chunk.data)] = chunk.data
        p.got.add(chunk.chunk_index)
        p.nbytes += len(chunk.data)
        if len(p.got) < p.count:
            return None
        del self._pending[key]
        self._done.append(key)
        self.stats["completed"] += 1
        return bytes(p.buf)

    @staticmethod
    def _fits(p: _Pending, c: Chunk) -> bool:
        n = len(c.data)
        if c.offset + n > p.total:
            return False
        if c.chunk_index == p.count - 1:
            if c.offset + n != p.total:
                return False
            if p.stride is not None and c.offset != c.chunk_index * p.stride:
                return False
            p.last_offset = c.offset
        else:
            if p.stride is None:
                p.stride = n
            if n != p.stride or c.offset != c.chunk_index * p.stride:
                return False
            if p.last_offset is not None and p.last_offset != (p.count - 1) * p.stride:
                return False
            if n * (p.count - 1) >= p.total:  # the last chunk would be empty
                return False
        return True

    def expire(self, now: float | None = None) -> list[Hashable]:
        """Drop requests whose first chunk is older than the timeout; return their keys."""
        now = self.clock() if now is None else now
        old = [k for k, p in self._pending.items() if now - p.started > self.timeout_s]
        for k in old:
            del self._pending[k]
        self.stats["incomplete"] += len(old)
        return old

    @property
    def pending(self) -> int:
        """Requests currently waiting for chunks."""
        return len(self._pending)
