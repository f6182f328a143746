"""The gateway's relay: tools reach the serial boards it holds (``relay://``, docs/protocol.md §5).

A UART admits one client, so ``vp-edge flash`` and probes of a serial board go through the
gateway serving it: a datagram on ``STATE_DIR/gateway.sock`` is one frame, written unchanged
onto the line of the board its header names; the board's frames that echo a request id the
client used go back to it, re-encoded byte for byte (the encoding is deterministic, and the
gateway holds the keys). Each frame keeps its tag and counter, so nothing is trusted here.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import firmware_bridge as fb
from firmware_bridge.protocol import CRC_SIZE, HEADER_SIZE, MAGIC
from firmware_bridge.protocol.keys import key_for
from firmware_bridge.transport.relay import SOCKET_NAME

if TYPE_CHECKING:  # pragma: no cover
    from vp_edge.gateway.answer import Board


class Gateway(Protocol):
    """What the relay needs of the gateway (defined here, so the core and the relay do not
    import each other)."""

    boards: dict[str, Board]
    keys: Any

    def send_raw(self, b: Board, frame: bytes) -> int: ...


RID_TTL_S = 120.0  # a client's request id is relayed back this long after its last frame
#: a board's unsolicited frames (HEARTBEAT, a HELLO after a model switch) go to every client
#: that sent it a frame this recently, as a UDP board sends them to its recent peers
PEER_TTL_S = 30.0
#: a board whose flash client relayed LOAD_BEGIN or a chunk this recently, and no LOAD_COMMIT
#: since, gets no requests: its line is the flash's (requests would wait behind the chunks)
LOAD_HOLD_S = 3.0
LOAD_TYPES = frozenset((fb.MsgType.LOAD_BEGIN, fb.MsgType.LOAD_CHUNK))
Addr = str | bytes  # a client's Unix socket address (bytes: an abstract one)
MAX_PATH = 100  # Unix socket paths are limited to about 108 bytes


class Relay:
    """The relay socket of one gateway, served from its event loop."""

    def __init__(self, gw: Gateway, state_dir: Path) -> None:
        self.gw = gw
        self.path = state_dir / SOCKET_NAME
        self.sock: socket.socket | None = None
        self.rids: dict[tuple[int, int], tuple[Addr, float]] = {}  # (board, rid) -> client
        self.peers: dict[tuple[int, Addr], float] = {}  # (board, client) -> its last frame
        self.counts = dict.fromkeys(("relayed_in", "relayed_out", "refused"), 0)
        self.loaded_at: dict[int, float] = {}  # board id -> when a LOAD frame was relayed

    def open(self) -> bool:
        """Bind the socket (not when another live gateway holds it, or the path is too long)."""
        if len(str(self.path)) > MAX_PATH:
            return False
        if self.path.exists():
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
                try:
                    probe.connect(str(self.path))
                    return False  # another gateway of this deployment relays
                except OSError:
                    self.path.unlink(missing_ok=True)  # left by a gateway that is gone
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(str(self.path))
        except OSError:
            sock.close()
            return False
        sock.setblocking(False)
        self.sock = sock
        return True

    def on_readable(self) -> None:
        """Relay every waiting client datagram onto its board's line."""
        while self.sock is not None:
            try:
                data, addr = self.sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            board = self._board(data)
            if board is None or not addr:
                self.counts["refused"] += 1
                continue
            rid, now = struct.unpack_from("<I", data, 6)[0], time.monotonic()
            if len(self.rids) > 4096:  # forget clients long gone
                self.rids = {k: v for k, v in self.rids.items() if now - v[1] <= RID_TTL_S}
            self.rids[(board.spec.id, rid)] = (addr, now)
            self.peers[(board.spec.id, addr)] = now
            if data[2] == fb.MsgType.LOAD_COMMIT:  # the transfer is over: votes again
                self.loaded_at.pop(board.spec.id, None)
            elif data[2] in LOAD_TYPES:
                self.loaded_at[board.spec.id] = now
            if self.gw.send_raw(board, data):
                self.counts["relayed_in"] += 1

    def flashing(self, b: Board) -> bool:
        """Whether a client is flashing ``b`` through the relay now (``LOAD_HOLD_S``)."""
        at = self.loaded_at.get(b.spec.id)
        return at is not None and time.monotonic() - at < LOAD_HOLD_S

    def _board(self, data: bytes) -> Board | None:
        if len(data) < HEADER_SIZE + CRC_SIZE or data[0] != MAGIC:
            return None
        bid = struct.unpack_from("<H", data, 4)[0]
        return next((b for b in self.gw.boards.values() if b.spec.id == bid), None)

    def take(self, b: Board, f: fb.Frame) -> bool:
        """Send ``f`` to the client whose request it answers; True when it was one. A frame
        nobody asked for (request id 0) also goes to the board's recent clients, and stays
        the gateway's too (False)."""
        if not f.request_id:
            now = time.monotonic()
            self.peers = {k: t for k, t in self.peers.items() if now - t <= PEER_TTL_S}
            for board_id, addr in self.peers:
                if board_id == f.board_id:
                    self._send(f, addr)
            return False
        client = self.rids.get((f.board_id, f.request_id))
        if client is None or self.sock is None:
            return False
        addr, t = client
        if time.monotonic() - t > RID_TTL_S:
            del self.rids[(f.board_id, f.request_id)]
            return False
        self._send(f, addr)
        return True

    def _send(self, f: fb.Frame, addr: Addr) -> None:
        """``f`` to one client, re-encoded byte for byte as the board signed it."""
        if self.sock is None:
            return
        frame = fb.encode_frame(
            f.msg,
            board_id=f.board_id,
            request_id=f.request_id,
            counter=f.counter,
            key=key_for(self.gw.keys, f.board_id),
            from_gateway=False,
        )
        with contextlib.suppress(OSError):
            self.sock.sendto(frame, addr)
            self.counts["relayed_out"] += 1

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            self.path.unlink(missing_ok=True)
