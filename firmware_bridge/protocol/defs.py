"""Constants, enums and the status/drop-reason tables of the wire protocol (see docs/protocol.md).

Kept apart from the message classes in ``protocol.py`` (which re-exports everything here) so that
``cheader.py`` can generate ``c/vp_proto_defs.h`` from one small, data-only module.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

MAGIC = 0x56  # 'V'
VERSION = 1
HEADER_SIZE = 20
TAG_SIZE = 8
CRC_SIZE = 4
MAX_FRAME = 1200  # default datagram budget, bytes on the wire before COBS
MAX_K = 32
MAX_NAME = 32
INFER_CHUNK_HEADER = 12
TENSOR_CHUNK_HEADER = 16  # compute_us u32 + INFER's 12-byte chunk header
INFER_STAGE_CHUNK_HEADER = 16  # stage u8 + 3 reserved + INFER's 12-byte chunk header
LOAD_CHUNK_HEADER = 8
SLOT_ACTIVE = 0xFF
HEADER_FMT = "<BBBBHIHQ"  # magic, version, type, flags, board_id, request_id, payload_len, counter


class MsgType(IntEnum):
    """Message type byte (header offset 2)."""

    HELLO = 0x01
    PROBE = 0x02
    HEARTBEAT = 0x03
    INFER = 0x04
    RESULT = 0x05
    ERROR = 0x06
    TENSOR = 0x07  # board -> gw: the full int8 output, chunked like INFER (HELLO k = 0)
    INFER_STAGE = 0x08  # gw -> board: INFER for stage s of a multi-stage part
    LOAD_BEGIN = 0x10
    LOAD_CHUNK = 0x11
    LOAD_COMMIT = 0x12
    LOAD_ACK = 0x13
    READBACK = 0x14
    READBACK_REPLY = 0x15


class Flag(IntFlag):
    """Header flags (offset 3). Any other bit set makes the frame invalid (``bad_flags``)."""

    INSECURE = 0x01  # no tag follows the payload; a secure receiver drops the frame
    FROM_GATEWAY = 0x02  # sent by the gateway to board ``board_id``; clear: sent by that board


class BoardKind(IntEnum):
    """What a board is, announced in HELLO."""

    UNKNOWN = 0
    MCU = 1
    LINUX = 2
    PYNQ = 3
    EMULATED = 4


class Status(IntEnum):
    """The one table of status codes, used by ERROR, LOAD_ACK and READBACK_REPLY."""

    OK = 0
    UNSUPPORTED = 1
    BAD_PAYLOAD = 2
    BAD_INPUT_SIZE = 3
    BUSY = 4
    REASSEMBLY_TIMEOUT = 5
    INFER_FAILED = 6
    NO_MODEL = 7
    LOAD_NO_SESSION = 8
    LOAD_TOO_BIG = 9
    LOAD_BAD_OFFSET = 10
    LOAD_BAD_CRC = 11
    LOAD_BAD_HASH = 12
    LOAD_BAD_TAG = 13
    LOAD_BAD_SLOT = 14
    LOAD_FLASH_ERROR = 15
    LOAD_INCOMPLETE = 16
    INTERNAL = 17
    STALE_COUNTER = 18


STATUS_TEXT: dict[Status, str] = {
    Status.OK: "ok",
    Status.UNSUPPORTED: "message type not supported by this board",
    Status.BAD_PAYLOAD: "payload malformed for its message type",
    Status.BAD_INPUT_SIZE: "INFER total differs from the model's (stage's) input tensor size",
    Status.BUSY: "board busy with another request",
    Status.REASSEMBLY_TIMEOUT: "INFER chunks missing when the reassembly timeout expired",
    Status.INFER_FAILED: "the inference itself failed",
    Status.NO_MODEL: "no model loaded in the active slot",
    Status.LOAD_NO_SESSION: "LOAD_CHUNK or LOAD_COMMIT without a matching LOAD_BEGIN",
    Status.LOAD_TOO_BIG: "artefact larger than the target slot",
    Status.LOAD_BAD_OFFSET: "LOAD_CHUNK offset is not the next expected offset",
    Status.LOAD_BAD_CRC: "LOAD_CHUNK data does not match its CRC-32C",
    Status.LOAD_BAD_HASH: "written artefact does not match the SHA-256 of LOAD_BEGIN",
    Status.LOAD_BAD_TAG: "artefact HMAC-SHA256 does not match the deployment key",
    Status.LOAD_BAD_SLOT: "target slot does not exist or is the running slot",
    Status.LOAD_FLASH_ERROR: "flash erase or write failed",
    Status.LOAD_INCOMPLETE: "LOAD_COMMIT before all bytes were written",
    Status.INTERNAL: "internal error on the board",
    Status.STALE_COUNTER: "sender older than the newest this board knows: PROBE again with "
    "request_id = detail (docs/protocol.md §4)",
}

# Reasons a receiver drops a frame; ``Auth.stats`` has one counter per reason plus ``accepted``.
DROP_REASONS: tuple[str, ...] = (
    "bad_cobs",  # serial: COBS block malformed
    "too_long",  # larger than the receiver's max frame
    "truncated",  # shorter than header + trailer, or payload_len disagrees with the size
    "bad_crc",
    "bad_magic",
    "bad_version",
    "bad_flags",  # reserved flag bit set
    "bad_type",  # unknown message type
    "insecure",  # INSECURE frame at a secure receiver
    "bad_tag",  # HMAC tag wrong, or a tagged frame at a keyless receiver
    "wrong_direction",  # FROM_GATEWAY bit not what this receiver expects
    "unknown_board",
    "replay",  # counter seen already, or older than the sender's 64-counter window
    "stale",  # board: a new gateway-side sender older than the newest known, not challenged
    "bad_payload",  # authenticated, but the payload does not unpack
)
