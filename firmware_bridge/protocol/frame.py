"""Frames: header + payload + optional HMAC tag + CRC-32C, and the receivers that check them.

Sending::

    tx = Sender(key, counter=EpochStore("board.epoch").counter(), board_id=7)
    datagram = tx.frame(Result(120, ((3, 97), (1, 12))), request_id=rid)  # UDP
    line_bytes = tx.serial(msg, request_id=rid)                               # COBS + 0x00

Receiving (the gateway side; a board uses ``role="board"`` and ``boards={its id}``)::

    auth = Auth(key, boards={7, 8}, role="gateway")
    frame = decode_datagram(data, auth)        # Frame | None, never raises
    frames = StreamDecoder(auth).feed(chunk)   # list[Frame], never raises
    auth.stats                                 # {"accepted": n, "bad_crc": n, "replay": n, ...}

A key is a board's own key (``bytes``) or, at the gateway, ``BoardKeys(master)``: every frame is
then tagged and checked with the key derived for the board id in its header (docs/protocol.md
§4), so one board's key cannot speak for another. ``key=None`` is the explicit insecure mode: frames
carry the INSECURE flag and no tag, and a receiver with a key drops them (``insecure``) unless
built with ``allow_insecure=True``.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import ProtocolError
from . import cobs
from .catalog import FROM_GATEWAY_TYPES, Message, unpack_message
from .counter import Counter, ReplayWindow
from .crc import crc32c
from .defs import (
    CRC_SIZE,
    DROP_REASONS,
    HEADER_FMT,
    HEADER_SIZE,
    MAGIC,
    MAX_FRAME,
    TAG_SIZE,
    VERSION,
    Flag,
    MsgType,
)
from .keys import KeySource, key_for

_TYPES = frozenset(int(t) for t in MsgType)
#: board role: gateway-side senders (gateway, flash, probes) a board tracks at once (C VP_MAX_PEERS)
MAX_STREAMS = 8


def challenge_nonce(board_counter: int) -> int:
    """The STALE_COUNTER nonce for a board counter: SHA-256("vp-edge challenge" || u64le),
    first 4 bytes little-endian, 0 mapped to 1 (docs/protocol.md §4)."""
    digest = hashlib.sha256(b"vp-edge challenge" + struct.pack("<Q", board_counter)).digest()
    return struct.unpack("<I", digest[:4])[0] or 1


_KNOWN_FLAGS = int(Flag.INSECURE) | int(Flag.FROM_GATEWAY)


@dataclass(frozen=True)
class Frame:
    """One accepted frame: header fields and the unpacked message."""

    msg: Message
    board_id: int
    request_id: int
    counter: int
    flags: Flag

    @property
    def msg_type(self) -> MsgType:
        return self.msg.TYPE

    @property
    def from_gateway(self) -> bool:
        return bool(self.flags & Flag.FROM_GATEWAY)


def tag(key: bytes, signed: bytes) -> bytes:
    """The truncated HMAC-SHA256 tag over header + payload."""
    return hmac.new(key, signed, hashlib.sha256).digest()[:TAG_SIZE]


def encode_frame(
    msg: Message,
    *,
    board_id: int,
    request_id: int,
    counter: int,
    key: bytes | None,
    from_gateway: bool | None = None,
) -> bytes:
    """Encode ``msg`` as one frame (UDP datagram form). ``key=None``: insecure, no tag.

    ``from_gateway`` defaults to the direction the message type travels in.
    """
    if from_gateway is None:
        from_gateway = msg.TYPE in FROM_GATEWAY_TYPES
    payload = msg.pack()
    flags = (Flag.FROM_GATEWAY if from_gateway else 0) | (Flag.INSECURE if key is None else 0)
    try:
        head = struct.pack(
            HEADER_FMT, MAGIC, VERSION, msg.TYPE, flags, board_id, request_id, len(payload), counter
        )
    except struct.error as exc:
        raise ProtocolError(f"header field out of range: {exc}") from exc
    body = head + payload
    if key is not None:
        body += tag(key, body)
    return body + struct.pack("<I", crc32c(body))


def to_serial(frame: bytes) -> bytes:
    """COBS-encode a frame and add the 0x00 delimiter (serial links)."""
    return cobs.encode(frame) + b"\x00"


class Sender:
    """Encodes frames for one sender: holds the key (or the gateway's ``BoardKeys``), its
    counter and its direction."""

    def __init__(
        self, key: KeySource, counter: Counter, *, board_id: int = 0, from_gateway: bool = False
    ) -> None:
        self.key = key
        self.counter = counter
        self.board_id = board_id
        self.from_gateway = from_gateway

    def frame(self, msg: Message, request_id: int = 0, board_id: int | None = None) -> bytes:
        """One frame (UDP form); ``board_id`` overrides the default (the gateway's target)."""
        bid = self.board_id if board_id is None else board_id
        return encode_frame(
            msg,
            board_id=bid,
            request_id=request_id,
            counter=self.counter.next(),
            key=key_for(self.key, bid),
            from_gateway=self.from_gateway,
        )

    def serial(self, msg: Message, request_id: int = 0, board_id: int | None = None) -> bytes:
        """One frame, COBS-encoded with its 0x00 delimiter (serial form)."""
        return to_serial(self.frame(msg, request_id, board_id))


class Auth:
    """Receiver state: key, accepted board ids, a replay window per sender, drop counters.

    ``key`` is the receiver's own key, or at a gateway ``BoardKeys(master)``: a frame's tag is
    then checked with the key derived for the board id in its header.

    ``role="gateway"`` accepts frames sent by boards (FROM_GATEWAY clear); ``role="board"``
    accepts frames the gateway sent (FROM_GATEWAY set). ``boards=None`` accepts any board id.
    """

    def __init__(
        self,
        key: KeySource,
        boards: Iterable[int] | None = None,
        *,
        role: str = "gateway",
        allow_insecure: bool = False,
    ) -> None:
        if role not in ("gateway", "board"):
            raise ValueError(f"role must be 'gateway' or 'board', not {role!r}")
        self.key = key
        self.boards = None if boards is None else frozenset(boards)
        self.role = role
        self.allow_insecure = allow_insecure or key is None
        #: gateway role: one window per board id; board role: one per (board id, sender epoch)
        self.windows: dict[tuple, ReplayWindow] = {}
        self.stats: dict[str, int] = {"accepted": 0, **{r: 0 for r in DROP_REASONS}}
        self.max_epoch: int | None = None  # board role: newest sender epoch accepted since boot
        self.challenge = 0  # board role: the nonce a stale sender must PROBE with (0: none)
        self.stale_probe: int | None = None  # request id of the last stale PROBE, to answer
        self._tick = 0  # board role: accept count, for least-recently-used eviction

    def drop(self, reason: str) -> None:
        self.stats[reason] += 1

    def allow(self, board_id: int) -> None:
        """Add a board id to the allow-list (e.g. a board the operator just registered)."""
        if self.boards is not None:
            self.boards = self.boards | {board_id}

    def forget(self, board_id: int) -> None:
        """Forget a sender's counters (e.g. the operator re-provisioned that board); at a
        board, as a reboot does: every gateway-side sender is new again."""
        for k in [k for k in self.windows if k[1] == board_id]:
            del self.windows[k]
        if self.role == "board":
            self.max_epoch, self.challenge = None, 0

    def challenge_for(self, board_counter: int) -> int:
        """Arm and return the nonce a stale sender must PROBE with (docs/protocol.md §4): derived
        from the board's own latest counter, so it never repeats and no recording holds it."""
        self.challenge = challenge_nonce(board_counter)
        return self.challenge

    def take_stale_probe(self) -> int | None:
        """The request id of a stale PROBE received since the last call (then cleared)."""
        rid, self.stale_probe = self.stale_probe, None
        return rid

    def check(self, frame: bytes) -> Frame | None:
        """Validate one unframed frame; count and return ``None`` on any problem."""
        reason, result = self._check(frame)
        if result is None:
            self.drop(reason)
        else:
            self.stats["accepted"] += 1
        return result

    def _check(self, frame: bytes) -> tuple[str, Frame | None]:
        n = len(frame)
        if n < HEADER_SIZE + CRC_SIZE:
            return "truncated", None
        if crc32c(frame[:-CRC_SIZE]) != struct.unpack_from("<I", frame, n - CRC_SIZE)[0]:
            return "bad_crc", None
        magic, ver, mtype, flags, board, rid, plen, ctr = struct.unpack_from(HEADER_FMT, frame)
        if magic != MAGIC:
            return "bad_magic", None
        if ver != VERSION:
            return "bad_version", None
        if flags & ~_KNOWN_FLAGS & 0xFF:
            return "bad_flags", None
        if mtype not in _TYPES:
            return "bad_type", None
        insecure = bool(flags & Flag.INSECURE)
        tag_len = 0 if insecure else TAG_SIZE
        if n != HEADER_SIZE + plen + tag_len + CRC_SIZE:
            return "truncated", None
        if insecure and not self.allow_insecure:
            return "insecure", None
        signed = frame[: HEADER_SIZE + plen]
        key = key_for(self.key, board)
        if not insecure and (
            key is None
            or not hmac.compare_digest(frame[HEADER_SIZE + plen : n - CRC_SIZE], tag(key, signed))
        ):
            return "bad_tag", None
        from_gw = bool(flags & Flag.FROM_GATEWAY)
        if from_gw != (self.role == "board") or from_gw != (mtype in FROM_GATEWAY_TYPES):
            return "wrong_direction", None
        if self.boards is not None and board not in self.boards:
            return "unknown_board", None
        sender = (from_gw, board, ctr >> 32) if from_gw else (from_gw, board)
        window = self.windows.get(sender)
        if window is None and from_gw and not self._admit(ctr >> 32, mtype, rid):
            return "stale", None
        window = window or ReplayWindow()
        if not window.fresh(ctr):
            return "replay", None
        try:
            msg = unpack_message(mtype, frame[HEADER_SIZE : HEADER_SIZE + plen])
        except ProtocolError:
            return "bad_payload", None
        window.accept(ctr)
        if from_gw:
            self._stream_accepted(sender, window, rid)
        self.windows[sender] = window
        return "", Frame(msg, board, rid, ctr, Flag(flags))

    def _admit(self, epoch: int, mtype: int, rid: int) -> bool:
        """Board role, a sender epoch without a window: a newer sender than any so far, or one
        answering this board's challenge, starts a window; any other is stale (a PROBE is
        remembered so the board can challenge it)."""
        if self.max_epoch is None or epoch > self.max_epoch:
            return True
        if mtype == MsgType.PROBE and self.challenge and rid == self.challenge:
            return True
        if mtype == MsgType.PROBE:
            self.stale_probe = rid
        return False

    def _stream_accepted(self, key: tuple, window: ReplayWindow, rid: int) -> None:
        """Board role bookkeeping after an accept: newest epoch, challenge spent, and the
        least recently used window evicted when a new one overfills the table."""
        self._tick += 1
        window.last_used = self._tick
        if key in self.windows:
            return
        if self.challenge and rid == self.challenge:
            self.challenge = 0
        self.max_epoch = max(self.max_epoch or 0, key[2])
        streams = [k for k in self.windows if k[0]]
        if len(streams) >= MAX_STREAMS:
            del self.windows[min(streams, key=lambda k: self.windows[k].last_used)]


def decode_datagram(data: bytes, auth: Auth, max_frame: int = MAX_FRAME) -> Frame | None:
    """Decode one UDP datagram (one frame, no COBS); ``None`` and a count in ``auth.stats``."""
    if len(data) > max_frame:
        auth.drop("too_long")
        return None
    return auth.check(bytes(data))


class StreamDecoder:
    """Incremental serial decoder: COBS blocks delimited by 0x00, resynchronising at each 0x00.

    Bytes after an over-long or malformed block are discarded up to the next delimiter, so one
    burst of garbage costs at most the frame it overlaps.
    """

    def __init__(self, auth: Auth, max_frame: int = MAX_FRAME) -> None:
        self.auth = auth
        self.max_frame = max_frame
        self.max_encoded = cobs.max_encoded_len(max_frame)
        self._buf = bytearray()
        self._overflow = False

    @property
    def stats(self) -> dict[str, int]:
        return self.auth.stats

    def feed(self, data: bytes) -> list[Frame]:
        """Consume bytes; return the frames they completed (possibly none)."""
        out: list[Frame] = []
        start = 0
        data = bytes(data)
        while True:
            end = data.find(b"\x00", start)
            piece = data[start:] if end < 0 else data[start:end]
            if not self._overflow:
                self._buf += piece
                if len(self._buf) > self.max_encoded:
                    self._overflow = True
                    self._buf.clear()
            if end < 0:
                return out
            self._finish(out)
            start = end + 1

    def _finish(self, out: list[Frame]) -> None:
        block, overflow = bytes(self._buf), self._overflow
        self._buf.clear()
        self._overflow = False
        if overflow:
            self.auth.drop("too_long")
            return
        if not block:
            return  # back-to-back delimiters are idle filler, not errors
        raw = cobs.decode(block)
        if raw is None:
            self.auth.drop("bad_cobs")
            return
        frame = decode_datagram(raw, self.auth, self.max_frame)
        if frame is not None:
            out.append(frame)
