"""Gateway-side request/response with one board over a link URL (stdlib; pyserial for serial).

``flash`` and the tests talk to a single board through this, over any link of the transport
layer (``/dev/ttyACM0``, ``serial://``, ``socket://``, ``rfc2217://``, ``pty://``, ``udp://``).
Replies are matched by request id, never by order.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import NamedTuple, cast

from ..errors import BridgeError
from ..transport import FrameLink, LinkError, open_link
from .catalog import Message
from .chunk import Reassembler, split_infer
from .counter import Counter, boot_counter
from .defs import MAX_FRAME, MsgType, Status
from .frame import Auth, Frame, Sender
from .keys import KeySource, key_for
from .load_messages import Readback, ReadbackReply
from .messages import Error, Hello, Probe, Tensor
from .messages import Result as ResultMsg

__all__ = [
    "DEFAULT_EPOCH_FILE",
    "BoardRefused",
    "BoardSession",
    "BoardTimeout",
    "LinkError",
    "TensorReply",
    "boot_counter",
]

DEFAULT_EPOCH_FILE = (
    Path(os.environ.get("VP_EDGE_STATE_DIR", Path.home() / ".local" / "state" / "vp-edge"))
    / "gateway.epoch"
)


class BoardTimeout(BridgeError):
    """The board did not answer in time, after every retry (exit code 5)."""

    exit_code = 5


class BoardRefused(BridgeError):
    """The board answered with an ERROR (``status``); exit code 3."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class TensorReply(NamedTuple):
    """A k = 0 board's answer: its whole int8 output, reassembled from ``chunks`` TENSOR frames."""

    data: bytes
    compute_us: int
    chunks: int


def _challenge(msg: Message) -> bool:
    """Whether ``msg`` is a board's STALE_COUNTER challenge (docs/protocol.md §4): PROBE again
    with request_id = its detail to be heard."""
    return isinstance(msg, Error) and msg.status == Status.STALE_COUNTER and msg.detail != 0


class BoardSession:
    """The gateway end of one board: sends requests, waits for the matching reply, resends."""

    def __init__(
        self,
        url: str,
        *,
        board_id: int = 1,
        key: KeySource = None,
        counter: Counter | None = None,
        epoch_file: Path | None = DEFAULT_EPOCH_FILE,
        timeout: float = 0.5,
        tries: int = 5,
        baud: int = 115200,
    ) -> None:
        """``key``: the board's own key, or ``BoardKeys(master)`` to derive it from the id."""
        self.url, self.board_id, self.timeout, self.tries = url, board_id, timeout, tries
        key = key_for(key, board_id)
        self.auth = Auth(key, {board_id}, role="gateway")
        self.sender = Sender(
            key, counter or boot_counter(epoch_file), board_id=board_id, from_gateway=True
        )
        self.link = FrameLink(open_link(url, baud=baud), self.auth)
        self.resends = 0
        self.max_frame = MAX_FRAME
        self.unsolicited: list[Frame] = []
        self.backlog: list[Frame] = []  # received, not yet looked at by wait()

    def close(self) -> None:
        self.link.close()

    def __enter__(self) -> BoardSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, msg: Message, request_id: int) -> None:
        self.link.send(self.sender.frame(msg, request_id))

    def wait(self, request_id: int, types: tuple[type, ...], timeout: float) -> Frame | None:
        """The next frame for ``request_id`` whose message is one of ``types``, or None."""
        deadline = time.monotonic() + timeout
        while self.backlog or (left := deadline - time.monotonic()) > 0:
            batch, self.backlog = self.backlog or self.link.recv(left), []
            for i, f in enumerate(batch):
                if f.request_id == request_id and isinstance(f.msg, types):
                    self.backlog = batch[i + 1 :]  # frames read with it (more TENSOR chunks)
                    return f
                if f.request_id == 0:
                    self.unsolicited.append(f)
        return None

    def request(
        self,
        msg: Message,
        types: tuple[type, ...],
        *,
        request_id: int | None = None,
        timeout: float | None = None,
        tries: int | None = None,
    ) -> Frame:
        """Send ``msg`` until a reply of ``types`` (or ERROR) for its request id arrives."""
        rid = request_id or random.randint(1, 0xFFFFFFFF)
        for attempt in range(tries or self.tries):
            if attempt:
                self.resends += 1
            self.send(msg, rid)
            f = self.wait(rid, (*types, Error), timeout or self.timeout)
            if f is not None and isinstance(msg, Probe) and _challenge(f.msg):
                rid = cast(Error, f.msg).detail  # an older sender than the board's newest
                continue
            if f is not None:
                return f
        raise BoardTimeout(
            f"board {self.board_id} at {self.url} did not answer {msg.TYPE.name} after "
            f"{tries or self.tries} tries (wrong --board-id or key, or the board is down)"
        )

    def hello(self) -> Hello:
        f = self.request(Probe(MsgType.HELLO), (Hello,))
        if isinstance(f.msg, Error):
            raise BoardRefused(f"board answered PROBE with {f.msg.status.name}", f.msg.status)
        hello = cast(Hello, f.msg)  # request() returns one of the asked types or ERROR
        self.max_frame = min(MAX_FRAME, hello.max_frame)
        return hello

    def readback(self, slot: int = 0xFF, timeout: float | None = None) -> ReadbackReply:
        f = self.request(Readback(slot), (ReadbackReply,), timeout=timeout)
        if isinstance(f.msg, Error):
            raise BoardRefused(f"board answered READBACK with {f.msg.status.name}", f.msg.status)
        return cast(ReadbackReply, f.msg)

    def infer(self, tensor: bytes, timeout: float = 5.0) -> ResultMsg | Error:
        """One inference: the RESULT, or the board's ERROR. A new request id per try."""
        for attempt in range(self.tries):
            rid = random.randint(1, 0xFFFFFFFF)
            self._send_infer(tensor, rid)
            f = self.wait(rid, (ResultMsg, Error), timeout)
            if f is not None:
                return cast("ResultMsg | Error", f.msg)
            self.resends += 1
        raise BoardTimeout(
            f"board {self.board_id} at {self.url}: no RESULT after {self.tries} tries"
        )

    def _send_infer(self, tensor: bytes, rid: int) -> None:
        for chunk in split_infer(
            tensor, max_frame=self.max_frame, secure=self.sender.key is not None
        ):
            self.send(chunk, rid)

    def infer_tensor(self, tensor: bytes, timeout: float = 5.0) -> TensorReply | Error:
        """One inference on a board whose HELLO says k = 0: its TENSOR chunks reassembled, or
        its ERROR. One try: a chunk missing after ``timeout`` raises BoardTimeout."""
        rid = random.randint(1, 0xFFFFFFFF)
        self._send_infer(tensor, rid)
        reasm, chunks = Reassembler(timeout), 0
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            f = self.wait(rid, (Tensor, Error), left)
            if f is None:
                break
            if isinstance(f.msg, Error):
                return f.msg
            chunks += 1
            chunk = cast(Tensor, f.msg)
            if (data := reasm.add(rid, chunk)) is not None:
                return TensorReply(data, chunk.compute_us, chunks)
        raise BoardTimeout(
            f"board {self.board_id} at {self.url}: TENSOR incomplete after "
            f"{timeout} s ({chunks} chunks arrived)"
        )
