"""Flash a model artefact into a board's inactive slot over the LOAD session (docs/protocol.md §3).

Stdlib only (pyserial for serial links). Steps: PROBE(HELLO) for the board's frame budget,
READBACK(active) to pick the other slot, LOAD_BEGIN (size, SHA-256, HMAC-SHA256 under the
deployment key), stop-and-wait LOAD_CHUNKs with per-chunk CRC-32C and resends, LOAD_COMMIT
(the board checks hash, tag and its self-test before switching), then READBACK again: the
board's hash of its active slot must equal the artefact's ("Hash of data verified").

Exit codes carried by the errors: 3 link or board refusal, 4 verification failed, 5 timeout.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import struct
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

from .errors import BridgeError
from .protocol import (
    CRC_SIZE,
    HEADER_SIZE,
    LOAD_CHUNK_HEADER,
    TAG_SIZE,
    Error,
    Hello,
    LoadAck,
    LoadBegin,
    LoadChunk,
    LoadCommit,
    Message,
    MsgType,
    ReadbackReply,
    Status,
)
from .protocol.crc import crc32c
from .protocol.keys import KeySource, key_for
from .protocol.session import DEFAULT_EPOCH_FILE, BoardSession, BoardTimeout

EXIT_OK, EXIT_LINK, EXIT_VERIFY, EXIT_TIMEOUT = 0, 3, 4, 5

#: board answers that mean the artefact failed a check (exit 4); others are refusals (exit 3)
VERIFY_STATUSES = frozenset(
    {Status.LOAD_BAD_HASH, Status.LOAD_BAD_TAG, Status.INFER_FAILED, Status.LOAD_BAD_CRC}
)


class FlashError(BridgeError):
    """Flashing failed; ``status`` is the board's status when it refused (exit code 3)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class FlashVerifyError(FlashError):
    """The artefact or the written slot failed verification (exit code 4)."""

    exit_code = 4


@dataclass
class FlashReport:
    url: str
    board_id: int
    slot: int
    size: int
    sha256: str
    previous_sha256: str | None
    chunks: int
    resends: int
    seconds: float
    activated: bool
    verified: bool

    def to_dict(self) -> dict:
        return asdict(self)


def artifact_tag(key: bytes | None, artifact: bytes) -> bytes:
    """HMAC-SHA256 of the whole artefact; an insecure deployment uses the empty key."""
    return hmac.new(key or b"", artifact, hashlib.sha256).digest()


def chunk_size(max_frame: int, secure: bool) -> int:
    """LOAD_CHUNK data bytes per frame under ``max_frame`` (1160 at 1200, secure)."""
    return max_frame - HEADER_SIZE - CRC_SIZE - (TAG_SIZE if secure else 0) - LOAD_CHUNK_HEADER


def _fail(what: str, status: Status) -> FlashError:
    text = f"board refused {what}: {status.name}"
    if status == Status.LOAD_NO_SESSION and what == "LOAD_BEGIN":
        text += " (it remembers a newer LOAD_BEGIN counter: use the same --epoch-file as before)"
    cls = FlashVerifyError if status in VERIFY_STATUSES else FlashError
    return cls(text, int(status))


class _Loader:
    """One LOAD session over a BoardSession (stop-and-wait, resends on timeout)."""

    def __init__(self, s: BoardSession, commit_timeout: float) -> None:
        self.s, self.commit_timeout = s, commit_timeout
        self.rid = random.randint(1, 0xFFFFFFFF)

    def ack(self, msg: Message, timeout: float | None = None) -> LoadAck:
        f = self.s.request(msg, (LoadAck,), request_id=self.rid, timeout=timeout)
        if isinstance(f.msg, Error):
            raise FlashError(
                f"board answered {msg.TYPE.name} with ERROR {f.msg.status.name}", int(f.msg.status)
            )
        return cast(LoadAck, f.msg)

    def begin(self, artifact: bytes, slot: int, key: bytes | None) -> None:
        sha = hashlib.sha256(artifact).digest()
        a = self.ack(LoadBegin(len(artifact), slot, sha, artifact_tag(key, artifact)))
        if a.status != Status.OK:
            raise _fail("LOAD_BEGIN", a.status)

    def send_all(self, artifact: bytes, size: int, progress: Callable[[int], None]) -> int:
        off, chunks, bad = 0, 0, 0
        while off < len(artifact):
            data = artifact[off : off + size]
            a = self._fresh_ack(self.ack(LoadChunk(off, crc32c(data), data)), off)
            chunks += 1
            if a.status == Status.OK and off < a.next_offset <= len(artifact):
                progress(a.next_offset - off)
                off, bad = a.next_offset, 0
                continue
            if a.status not in (Status.OK, Status.LOAD_BAD_CRC, Status.LOAD_BAD_OFFSET):
                raise _fail(f"LOAD_CHUNK at {off}", a.status)
            bad += 1
            self.s.resends += 1
            if bad > self.s.tries:
                raise _fail(f"LOAD_CHUNK at {off} {bad} times", a.status)
            if a.status == Status.LOAD_BAD_OFFSET and a.next_offset <= len(artifact):
                progress(a.next_offset - off)
                off = a.next_offset  # resume where the board is
        return chunks

    def _fresh_ack(self, a: LoadAck, off: int) -> LoadAck:
        """Skip late acks of earlier chunks (a resend's second ack, all under one request id):
        taken for this chunk's, each would cost a resend that leaves one more behind."""
        while a.status == Status.OK and a.next_offset <= off:
            f = self.s.wait(self.rid, (LoadAck,), self.s.timeout)
            if f is None:
                break
            a = cast(LoadAck, f.msg)
        return a

    def commit(self, activate: bool) -> Status | None:
        """The commit status, or None if the ack was lost (the READBACK then decides)."""
        try:
            a = self.ack(LoadCommit(activate), timeout=self.commit_timeout)
        except BoardTimeout:
            return None
        return a.status


def _check_target(artifact: bytes) -> None:
    """Refuse, before any transfer, a .vpw the Cortex-M firmware would refuse at commit: another
    format version or the generic (host) weight layout."""
    if artifact[:4] != b"VPW1" or len(artifact) < 160:
        return  # not a .vpw header: the board's own checks answer
    version = struct.unpack_from("<I", artifact, 4)[0]
    target = struct.unpack_from("<i", artifact, 152)[0]
    if version != 3 or target not in (1, 2):
        raise FlashVerifyError(
            f"the .vpw is version {version}, target {target} (the firmware runs version 3, "
            "target cortex-m4/cortex-m7): repack it with vp-edge pack MODEL.tflite --target "
            "cortex-m4"
        )


def _slots(hello: Hello, before: ReadbackReply) -> tuple[str | None, int]:
    """(SHA-256 of the model the board serves now or None, the slot to write: the other one)."""
    # a board serving the model it was started with has no slot yet: its HELLO names it
    prev = (
        before.sha256.hex()
        if before.status == Status.OK
        else (hello.model_sha256.hex() if any(hello.model_sha256) else None)
    )
    slot = 1 - before.slot if before.status == Status.OK and before.slot in (0, 1) else 0
    return prev, slot


def _verify(s: BoardSession, artifact: bytes, slot: int, activate: bool) -> str:
    """READBACK after commit: the board's hash of the slot must be the artefact's (its hex)."""
    sha = hashlib.sha256(artifact).digest()
    after = s.readback(0xFF if activate else slot, timeout=max(s.timeout, 5.0))
    if not (after.status == Status.OK and after.sha256 == sha and after.slot == slot):
        raise FlashVerifyError(
            f"readback after commit: slot {after.slot} status {after.status.name} hash "
            f"{after.sha256.hex()[:16]}..., expected slot {slot} hash {sha.hex()[:16]}..."
        )
    return sha.hex()


def flash(
    url: str,
    artifact: bytes,
    *,
    board_id: int = 1,
    key: KeySource = None,
    epoch_file: Path | None = DEFAULT_EPOCH_FILE,
    activate: bool = True,
    timeout: float = 0.5,
    tries: int = 5,
    commit_timeout: float = 30.0,
    progress: Callable[[int], None] | None = None,
    session: BoardSession | None = None,
    baud: int = 115200,
) -> FlashReport:
    """Write ``artifact`` into the inactive slot of board ``board_id`` at ``url`` and verify it.

    Raises ``FlashError`` (refused, exit 3), ``FlashVerifyError`` (exit 4), ``BoardTimeout``
    (exit 5) or ``LinkError`` (exit 3). On any failure the board keeps its old model.
    ``key`` is the board's own key, or ``BoardKeys(master)``: the artefact's HMAC and every
    frame use the key derived for ``board_id``.
    """
    key = key_for(key, board_id)
    if not artifact:
        raise FlashError("the artefact is empty")
    _check_target(artifact)
    t0 = time.monotonic()
    own = session is None
    s = session or BoardSession(
        url,
        board_id=board_id,
        key=key,
        epoch_file=epoch_file,
        timeout=timeout,
        tries=tries,
        baud=baud,
    )
    try:
        hello = s.hello()
        prev, slot = _slots(hello, s.readback())
        load = _Loader(s, commit_timeout)
        load.begin(artifact, slot, key)
        chunks = load.send_all(
            artifact,
            chunk_size(min(s.max_frame, hello.max_frame), key is not None),
            progress or (lambda n: None),
        )
        status = load.commit(activate)
        if status is not None and status != Status.OK:
            raise _fail("LOAD_COMMIT", status)
        sha = _verify(s, artifact, slot, activate)
        seconds = round(time.monotonic() - t0, 3)
        return FlashReport(
            url, board_id, slot, len(artifact), sha, prev, chunks, s.resends, seconds, activate,
            True,
        )  # fmt: skip
    finally:
        if own:
            s.close()


__all__ = [
    "EXIT_LINK",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_VERIFY",
    "FlashError",
    "FlashReport",
    "FlashVerifyError",
    "MsgType",
    "artifact_tag",
    "chunk_size",
    "flash",
]
