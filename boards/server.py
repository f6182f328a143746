"""The board side of PROTOCOL.md, reusable by every board kind (linux daemon, emulated MCU, pynq).

One thread, one loop: receive -> check (``Auth``) -> dispatch by message type through
``HANDLERS`` -> answer. HELLO at start and on PROBE; INFER chunks reassembled (timeouts and
drops counted), run, answered with RESULT (top-k of the int8 output, ties to the lowest class,
as ``vp_edge.vote.topk_indices``) or ERROR; HEARTBEAT every ``heartbeat_s``. Message types
without a handler are answered ``ERROR(UNSUPPORTED)``: a subclass adds the LOAD session with::

    class FlashableServer(BoardServer):
        HANDLERS = {**BoardServer.HANDLERS, MsgType.LOAD_BEGIN: "on_load_begin", ...}
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

import firmware_bridge as fb
from boards.links import Link, LinkError
from boards.runners import Runner
from firmware_bridge import BoardKind, MsgType, Status
from vp_edge.vote import topk_indices


@dataclass
class BoardConfig:
    """What a board announces and how it guards its link."""

    board_id: int
    variant: str
    k: int
    key: bytes | None  # None: insecure (only when explicitly asked for)
    kind: BoardKind = BoardKind.LINUX
    model_sha256: bytes = bytes(32)
    score_scale: float = 1.0 / 256.0
    score_zero_point: int = -128
    heartbeat_s: float = 1.0
    reasm_timeout_s: float = 1.0
    max_frame: int = fb.MAX_FRAME
    epoch_file: Path | None = None


def model_facts(tflite: bytes) -> dict:
    """Output quantisation and hash of a .tflite, for HELLO (no interpreter needed)."""
    from converters.tflite import read_graph

    g = read_graph(tflite)
    return {"model_sha256": hashlib.sha256(tflite).digest(), "score_scale": g.output_scale,
            "score_zero_point": g.output_zero_point}


def make_counter(epoch_file: Path | None) -> fb.Counter:
    """A boot counter: the persisted epoch + 1, or wall-clock seconds when no file is kept."""
    if epoch_file is not None:
        return fb.EpochStore(epoch_file).counter()
    return fb.Counter(int(time.time()))


class BoardServer:
    """Serves one model over one link until ``stop`` is set or ``close`` is called."""

    HANDLERS: ClassVar[dict[MsgType, str]] = {
        MsgType.PROBE: "on_probe",
        MsgType.INFER: "on_infer",
    }

    def __init__(self, link: Link, runner: Runner, config: BoardConfig) -> None:
        self.link, self.runner, self.cfg = link, runner, config
        self.auth = fb.Auth(config.key, {config.board_id}, role="board",
                            allow_insecure=config.key is None)
        self.tx = fb.Sender(config.key, make_counter(config.epoch_file),
                            board_id=config.board_id)
        self.stream = fb.StreamDecoder(self.auth, config.max_frame)
        self.reasm = fb.Reassembler(config.reasm_timeout_s, max_total=runner.input_bytes)
        self.counts = dict.fromkeys(("tx", "inferences", "errors"), 0)
        self.started = time.monotonic()
        self._next_beat = self.started + config.heartbeat_s
        self.stop_event = threading.Event()

    # -- sending -----------------------------------------------------------------------------
    def send(self, msg: fb.Message, request_id: int = 0) -> None:
        frame = self.tx.frame(msg, request_id)
        self.link.send(frame if self.link.framing == "datagram" else fb.to_serial(frame))
        self.counts["tx"] += 1
        if isinstance(msg, fb.Error):
            self.counts["errors"] += 1

    def hello(self) -> fb.Hello:
        c = self.cfg
        return fb.Hello(c.kind, c.k, self.runner.output_size, self.runner.input_bytes,
                        c.model_sha256, c.variant[: fb.protocol.MAX_NAME], c.max_frame,
                        c.score_scale, c.score_zero_point)

    def heartbeat(self) -> fb.Heartbeat:
        dropped = sum(v for k, v in self.auth.stats.items() if k != "accepted")
        return fb.Heartbeat(int(time.monotonic() - self.started), self.auth.stats["accepted"],
                            dropped, self.counts["tx"], self.counts["inferences"],
                            self.counts["errors"])

    # -- the loop ----------------------------------------------------------------------------
    def serve(self) -> None:
        """Announce with HELLO, then serve until ``stop_event`` is set."""
        self.send(self.hello())
        while not self.stop_event.is_set():
            try:
                self.step(0.05)
            except (LinkError, OSError):
                if self.stop_event.is_set():
                    return  # closed under our feet by close(): a normal stop
                raise

    def step(self, timeout: float) -> None:
        """Receive once (up to ``timeout``), dispatch frames, run timers."""
        data = self.link.recv(min(timeout, max(0.0, self._next_beat - time.monotonic())))
        if data:
            if self.link.framing == "datagram":
                frame = fb.decode_datagram(data, self.auth, self.cfg.max_frame)
                frames = [frame] if frame is not None else []
            else:
                frames = self.stream.feed(data)
            for f in frames:
                self.handle(f)
        for _, rid in self.reasm.expire():
            self.send(fb.Error(Status.REASSEMBLY_TIMEOUT), rid)
        if time.monotonic() >= self._next_beat:
            self._next_beat = time.monotonic() + self.cfg.heartbeat_s
            self.send(self.heartbeat())

    def handle(self, frame: fb.Frame) -> None:
        """Dispatch one accepted frame through ``HANDLERS``."""
        name = self.HANDLERS.get(frame.msg_type)
        if name is None:
            self.send(fb.Error(Status.UNSUPPORTED, int(frame.msg_type)), frame.request_id)
            return
        getattr(self, name)(frame)

    def close(self) -> None:
        self.stop_event.set()
        self.link.close()

    # -- handlers ----------------------------------------------------------------------------
    def on_probe(self, frame: fb.Frame) -> None:
        want = frame.msg.want
        self.send(self.hello() if want == MsgType.HELLO else self.heartbeat(), frame.request_id)

    def on_infer(self, frame: fb.Frame) -> None:
        too_big = self.reasm.stats["too_big"]
        tensor = self.reasm.add_frame(frame)
        if self.reasm.stats["too_big"] != too_big:
            self.send(fb.Error(Status.BAD_INPUT_SIZE, self.runner.input_bytes), frame.request_id)
            return
        if tensor is None:
            return
        if len(tensor) != self.runner.input_bytes:
            self.send(fb.Error(Status.BAD_INPUT_SIZE, self.runner.input_bytes), frame.request_id)
            return
        self.infer(tensor, frame.request_id)

    def infer(self, tensor: bytes, request_id: int) -> None:
        """Run the model and answer RESULT with the top-k pairs (or ERROR INFER_FAILED)."""
        x = np.frombuffer(tensor, np.int8)
        t0 = time.perf_counter()
        try:
            q = np.asarray(self.runner.run(x), np.int8).reshape(-1)
        except Exception:  # noqa: BLE001 - any runtime failure becomes a protocol ERROR
            self.send(fb.Error(Status.INFER_FAILED), request_id)
            return
        us = min(int((time.perf_counter() - t0) * 1e6), 0xFFFFFFFF)
        self.counts["inferences"] += 1
        self.send(fb.Result(us, result_pairs(q, self.cfg.k)), request_id)

    @property
    def stats(self) -> dict:
        return {**self.counts, "rx": dict(self.auth.stats), "reassembly": dict(self.reasm.stats)}


def result_pairs(q: np.ndarray, k: int) -> tuple[tuple[int, int], ...]:
    """(class, raw int8 score) pairs, best first, ties to the lowest class."""
    return tuple((int(c), int(q[c])) for c in topk_indices(q, k))


def serve_in_thread(server: BoardServer) -> threading.Thread:
    """Run ``server.serve`` in a daemon thread (tests, in-process emulation)."""
    t = threading.Thread(target=server.serve, name=f"board-{server.cfg.board_id}", daemon=True)
    t.start()
    return t
