"""The board side of docs/protocol.md, reusable by every board kind (linux daemon, emulated
MCU, pynq).

One thread, one loop: receive -> check (``Auth``) -> dispatch by message type through
``HANDLERS`` -> answer. HELLO at start and on PROBE; INFER chunks reassembled (timeouts and
drops counted), run, answered with RESULT (top-k of the int8 output, ties to the lowest class,
as ``firmware_bridge.protocol.topk``) or ERROR; HEARTBEAT every ``heartbeat_s``. A board
configured with k = 0 (tensor mode) answers TENSOR chunks of its whole int8 output instead of
RESULT.
INFER_STAGE s (multi-stage parts) is reassembled per (request id, stage), checked against
``runner.stage_input_bytes(s)`` and run as ``runner.run_stage(request_id, s, x)``. Message types
without a handler are answered ``ERROR(UNSUPPORTED)``: a subclass adds the LOAD session with::

    class FlashableServer(BoardServer):
        HANDLERS = {**BoardServer.HANDLERS, MsgType.LOAD_BEGIN: "on_load_begin", ...}
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

import numpy as np

import firmware_bridge as fb
from boards.runners import Runner
from firmware_bridge import BoardKind, MsgType, Status
from firmware_bridge.protocol.topk import result_pairs
from firmware_bridge.transport import Link, LinkError

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # pragma: no cover
    from firmware_bridge.load_receiver import LoadReceiver


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
    return {
        "model_sha256": hashlib.sha256(tflite).digest(),
        "score_scale": g.output_scale,
        "score_zero_point": g.output_zero_point,
    }


def vpw_facts(vpw: bytes) -> dict:
    """The same facts for a packed .vpw."""
    from converters.vpw_format import read_vpw

    h = read_vpw(vpw).header
    return {
        "model_sha256": hashlib.sha256(vpw).digest(),
        "score_scale": float(h["out_scale"]),
        "score_zero_point": int(h["out_zp"]),
    }


def artefact_facts(blob: bytes) -> dict:
    """HELLO facts of any model file a board serves: .tflite, .vpw, or a .vpb bundle (its
    hash only: a staged part's output is an activation, its scale informational)."""
    from boards.runners import is_bundle

    if is_bundle(blob):
        return {"model_sha256": hashlib.sha256(blob).digest()}
    return model_facts(blob) if blob[4:8] == b"TFL3" else vpw_facts(blob)


make_counter = fb.boot_counter  # the one epoch scheme (firmware_bridge.protocol.counter)


class BoardServer:
    """Serves one model over one link until ``stop`` is set or ``close`` is called."""

    HANDLERS: ClassVar[dict[MsgType, str]] = {
        MsgType.PROBE: "on_probe",
        MsgType.INFER: "on_infer",
        MsgType.INFER_STAGE: "on_infer_stage",
    }

    def __init__(self, link: Link, runner: Runner, config: BoardConfig) -> None:
        self.link, self.runner, self.cfg = link, runner, config
        self.auth = fb.Auth(
            config.key, {config.board_id}, role="board", allow_insecure=config.key is None
        )
        self.tx = fb.Sender(config.key, make_counter(config.epoch_file), board_id=config.board_id)
        self.stream = fb.StreamDecoder(self.auth, config.max_frame)
        self._reassemblers(runner)
        self.loader: LoadReceiver | None = None
        self.counts = dict.fromkeys(("tx", "inferences", "errors"), 0)
        self.started = time.monotonic()
        self._next_beat = self.started + config.heartbeat_s
        self.stop_event = threading.Event()

    # -- sending -----------------------------------------------------------------------------
    def send(self, msg: fb.Message, request_id: int = 0) -> None:
        frame = self.tx.frame(msg, request_id)
        data = frame if self.link.framing == "datagram" else fb.to_serial(frame)
        if request_id:
            self.link.send(data)
        else:  # unsolicited: every authenticated sender should hear a new HELLO or heartbeat
            self.link.send_unsolicited(data)
        self.counts["tx"] += 1
        if isinstance(msg, fb.Error):
            self.counts["errors"] += 1

    def hello(self) -> fb.Hello:
        c = self.cfg
        return fb.Hello(
            c.kind,
            c.k,
            self.runner.output_size,
            self.runner.input_bytes,
            c.model_sha256,
            c.variant[: fb.protocol.MAX_NAME],
            c.max_frame,
            c.score_scale,
            c.score_zero_point,
        )

    def heartbeat(self) -> fb.Heartbeat:
        dropped = sum(v for k, v in self.auth.stats.items() if k != "accepted")
        return fb.Heartbeat(
            int(time.monotonic() - self.started),
            self.auth.stats["accepted"],
            dropped,
            self.counts["tx"],
            self.counts["inferences"],
            self.counts["errors"],
        )

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
            stale = self.auth.take_stale_probe()
            if frames or stale is not None:
                self.link.confirm_peer()  # learn an address from authenticated frames only
            if stale is not None:  # docs/protocol.md §4: an older sender must answer a challenge
                nonce = self.auth.challenge_for(self.tx.counter.value)
                self.send(fb.Error(Status.STALE_COUNTER, nonce), stale)
            for f in frames:
                self.handle(f)
        for key in [*self.reasm.expire(), *self.stage_reasm.expire()]:
            self.send(fb.Error(Status.REASSEMBLY_TIMEOUT), cast(tuple, key)[1])  # (board, rid)
        if time.monotonic() >= self._next_beat:
            self._next_beat = time.monotonic() + self.cfg.heartbeat_s
            self.send(self.heartbeat())

    def handle(self, frame: fb.Frame) -> None:
        """Dispatch one accepted frame: the LOAD session if mounted, else ``HANDLERS``."""
        if self.loader is not None and self.loader.handles(frame):
            reply = self.loader.handle(frame)
            if reply is not None:
                self.send(reply, frame.request_id)
            return
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
        want = cast(fb.Probe, frame.msg).want
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

    def on_infer_stage(self, frame: fb.Frame) -> None:
        """A chunk of stage ``s``'s input: refuse a stage or size the runner lacks (once per
        request and stage), else reassemble and run the stage."""
        chunk, rid = cast(fb.InferStage, frame.msg), frame.request_id
        stage = chunk.stage
        want = self.runner.stage_input_bytes(stage) if stage < self.runner.stages else 0
        if chunk.total != want:
            if (rid, stage) not in self._refused:
                self._refused.append((rid, stage))
                self.send(fb.Error(Status.BAD_INPUT_SIZE, want), rid)
            return
        tensor = self.stage_reasm.add_frame(frame)
        if tensor is not None:
            self.infer(tensor, rid, stage)

    def infer(self, tensor: bytes, request_id: int, stage: int = 0) -> None:
        """Run the model (``stage`` of it) and answer RESULT with the top-k pairs, TENSOR
        chunks of the whole output when k = 0, or ERROR INFER_FAILED (logged)."""
        x = np.frombuffer(tensor, np.int8)
        t0 = time.perf_counter()
        try:
            q = np.asarray(self.runner.run_stage(request_id, stage, x), np.int8).reshape(-1)
        except Exception:
            log.exception(
                "board %d (%s): %s %#010x failed; answered ERROR INFER_FAILED",
                self.cfg.board_id,
                self.cfg.variant,
                f"INFER_STAGE {stage}" if stage else "INFER",
                request_id,
            )
            self.send(fb.Error(Status.INFER_FAILED, stage), request_id)
            return
        us = min(int((time.perf_counter() - t0) * 1e6), 0xFFFFFFFF)
        fabric_us = getattr(self.runner, "compute_us", None)  # a simulated fabric's clock
        if fabric_us is not None:
            us = min(int(fabric_us), 0xFFFFFFFF)
        self.counts["inferences"] += 1
        if self.cfg.k == 0:
            for chunk in fb.split_tensor(
                q.tobytes(), us, max_frame=self.cfg.max_frame, secure=self.cfg.key is not None
            ):
                self.send(chunk, request_id)
            return
        self.send(fb.Result(us, result_pairs(q, self.cfg.k)), request_id)

    def _reassemblers(self, runner: Runner) -> None:
        """INFER reassembly sized to the model input; INFER_STAGE's to its largest stage."""
        timeout = self.cfg.reasm_timeout_s
        self.reasm = fb.Reassembler(timeout, max_total=runner.input_bytes)
        biggest = max(runner.stage_input_bytes(s) for s in range(runner.stages))
        self.stage_reasm = fb.Reassembler(timeout, max_total=biggest)
        self._refused: deque[tuple[int, int]] = deque(maxlen=64)

    @property
    def stats(self) -> dict:
        return {
            **self.counts,
            "rx": dict(self.auth.stats),
            "reassembly": dict(self.reasm.stats),
            "stage_reassembly": dict(self.stage_reasm.stats),
        }

    def swap_model(self, runner: Runner, facts: dict, announce: bool = True) -> None:
        """Serve another model from now on (after a verified LOAD) and announce it."""
        self.runner = runner
        for name, value in facts.items():
            setattr(self.cfg, name, value)
        self._reassemblers(runner)
        if announce:
            self.send(self.hello())


def mount_loader(
    server: BoardServer, directory: Path, make: Callable[[bytes], Runner]
) -> LoadReceiver:
    """Let ``vp-edge flash`` replace the board's model file (the LOAD session of docs/protocol.md).

    A model is activated only once it loads and runs in this board's runner (and a .vpw passes
    its golden self-test); the verified active slot is served again after a restart.
    """
    from firmware_bridge.load_receiver import LoadReceiver, check_vpw

    def check(path: Path) -> bool:
        blob = path.read_bytes()
        runner = make(blob)
        runner.run(np.zeros(runner.input_shape, np.int8))
        return check_vpw(path)

    def activate(path: Path, sha: bytes, announce: bool = True) -> None:
        blob = path.read_bytes()
        facts = artefact_facts(blob)
        server.swap_model(make(blob), facts, announce)

    loader = LoadReceiver(directory, key=server.cfg.key, check=check, on_activate=activate)
    server.loader = loader
    if loader.active_path is not None:
        activate(loader.active_path, loader.active_sha256 or bytes(32), announce=False)
    return loader


def serve_in_thread(server: BoardServer) -> threading.Thread:
    """Run ``server.serve`` in a daemon thread (tests, in-process emulation)."""
    t = threading.Thread(target=server.serve, name=f"board-{server.cfg.board_id}", daemon=True)
    t.start()
    return t
