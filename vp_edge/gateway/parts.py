"""Strategies live: one request/response call per part (``call_part``) and the plan driver.

A deployment whose ``strategy`` is not "vp" serves the parts of ``run/strategy.json``
(``vp_edge.strategies``): each board's ``variant`` names the part it runs. ``Gateway.classify``
then drives the strategy's plan generator (``run_plan``): the calls of one step go out in
parallel, each to the board serving its part, as INFER (stage 0) or INFER_STAGE (stage s);
a reply is the board's whole int8 output, reassembled from TENSOR chunks (k = 0 boards) or
rebuilt from a RESULT carrying every (class, score) pair (k = number of outputs). A board that
is down, answers ERROR, or misses the request's deadline gives None, and the plan decides
(``Outcome.status`` "degraded" or "failed"). Every frame of the request is counted both ways,
at its size on the link (COBS and delimiter included on serial links).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

import firmware_bridge as fb
from firmware_bridge.protocol.frame import key_for
from vp_edge.gateway.answer import Answer, Board


class Gateway(Protocol):
    """What the part driver reads and calls of ``vp_edge.gateway.core.Gateway`` (which fits
    it): the core imports this module, never the other way round."""

    dep: Any
    keys: Any
    boards: dict[str, Board]
    counts: dict[str, int]
    parts: PartCalls
    strategy: Any
    _finished: Any

    def _new_rid(self) -> int: ...
    def _send(self, b: Board, msg: fb.Message, rid: int) -> int: ...
    def note_miss(self, b: Board, t0: float, sent: float) -> None: ...


@dataclass
class Wire:
    """Frames and their bytes on the link, both ways."""

    bytes_sent: int = 0
    bytes_received: int = 0
    messages_sent: int = 0
    messages_received: int = 0

    def add(self, other: Wire) -> None:
        self.bytes_sent += other.bytes_sent
        self.bytes_received += other.bytes_received
        self.messages_sent += other.messages_sent
        self.messages_received += other.messages_received


@dataclass
class PartReply:
    """One part's answer: its whole int8 output and what the exchange cost."""

    board: str
    vector: np.ndarray  # int8, 1-D
    compute_us: int
    latency_s: float
    wire: Wire


@dataclass
class PlanAccounting:
    """What one request cost on the wire, per part and in total."""

    wire: Wire = field(default_factory=Wire)
    request_id: int = 0  # the one request id of every call of the request
    calls: int = 0
    compute_us: dict[str, list[int]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # parts that gave None, in call order

    def to_dict(self) -> dict:
        return {
            **vars(self.wire),
            "calls": self.calls,
            "compute_us": self.compute_us,
            "missing": self.missing,
        }


@dataclass
class _Call:
    board: str
    outputs: int  # RESULT replies: the vector length (HELLO num_classes)
    wire: Wire
    reasm: fb.Reassembler
    done: asyncio.Event = field(default_factory=asyncio.Event)
    vector: np.ndarray | None = None
    compute_us: int = 0


class PartCalls:
    """The gateway's pending part calls, keyed by (board name, request id); ``take`` is fed
    every accepted frame by the gateway's event loop."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.pending: dict[tuple[str, int], _Call] = {}
        self._sha: dict[str, str] = {}

    def artefact_sha256(self, path: Any) -> str:
        """SHA-256 (hex) of a part's artefact, read once."""
        key = str(path)
        if key not in self._sha:
            import hashlib

            with open(path, "rb") as fh:
                self._sha[key] = hashlib.sha256(fh.read()).hexdigest()
        return self._sha[key]

    def wire_size(self, b: Board, f: fb.Frame) -> int:
        """Bytes frame ``f`` took on ``b``'s link (re-encoded: the codec is deterministic)."""
        key = None if f.flags & fb.Flag.INSECURE else key_for(self.gw.keys, f.board_id)
        raw = fb.encode_frame(
            f.msg,
            board_id=f.board_id,
            request_id=f.request_id,
            counter=f.counter,
            key=key,
            from_gateway=False,
        )
        return len(b.adapter.encode(raw))

    def take(self, b: Board, f: fb.Frame) -> bool:
        """Consume ``f`` if it answers a pending part call (or is a late TENSOR)."""
        call = self.pending.get((b.spec.name, f.request_id))
        if call is None:
            if isinstance(f.msg, fb.Tensor):
                self.gw.drop(b, "late")
                return True
            return False
        if not isinstance(f.msg, fb.Tensor | fb.Result | fb.Error):
            return False
        call.wire.bytes_received += self.wire_size(b, f)
        call.wire.messages_received += 1
        if isinstance(f.msg, fb.Error):
            b.stats.count_error(f.msg.status)
            call.done.set()
        elif isinstance(f.msg, fb.Tensor):
            data = call.reasm.add((f.board_id, f.request_id), f.msg)
            if data is not None:
                call.vector, call.compute_us = np.frombuffer(data, np.int8).copy(), f.msg.compute_us
                call.done.set()
        else:
            call.vector, call.compute_us = (
                scatter_pairs(f.msg.pairs, call.outputs),
                f.msg.compute_us,
            )
            if call.vector is None:
                self.gw.drop(b, "bad_result")
            call.done.set()
        return True


def scatter_pairs(pairs: Sequence[tuple[int, int]], outputs: int) -> np.ndarray | None:
    """The full int8 vector from a RESULT that carries every output once (k = outputs)."""
    classes = [c for c, _ in pairs]
    if len(pairs) != outputs or sorted(classes) != list(range(outputs)):
        return None
    vector = np.zeros(outputs, np.int8)
    for c, s in pairs:
        vector[c] = s
    return vector


def _ready_board(gw: Gateway, name: str) -> Board | None:
    b = gw.boards.get(name)
    return b if b is not None and b.up and b.hello is not None else None


async def call_part(
    gw: Gateway,
    board: str,
    stage: int,
    tensor: bytes,
    deadline_t: float,
    *,
    request_id: int | None = None,
    wire: Wire | None = None,
) -> PartReply | None:
    """Send ``tensor`` to ``board`` for ``stage`` (INFER, or INFER_STAGE for stage > 0) and
    wait until ``deadline_t`` (``time.monotonic()``) for its whole int8 output.

    None when the board is down or unknown, answers ERROR or an unusable RESULT, or is late.
    Frames both ways are counted in the reply's ``wire`` and, if given, added to ``wire``
    (also when the answer is None).
    """
    b = _ready_board(gw, board)
    if b is None:
        return None
    rid = gw._new_rid() if request_id is None else request_id
    hello = b.hello
    call = _Call(
        board,
        hello.num_classes,
        Wire(),
        fb.Reassembler(max(deadline_t - time.monotonic(), 0.0) + 1.0),
    )
    gw.parts.pending[(board, rid)] = call
    t0 = time.monotonic()
    try:
        max_frame = min(hello.max_frame, fb.MAX_FRAME)
        for chunk in fb.split_infer_stage(
            tensor, stage, max_frame=max_frame, secure=gw.dep.key is not None
        ):
            sent = gw._send(b, chunk, rid)
            if not sent:
                return None
            call.wire.bytes_sent += sent
            call.wire.messages_sent += 1
        try:
            await asyncio.wait_for(call.done.wait(), max(deadline_t - time.monotonic(), 0.0))
        except TimeoutError:
            gw.note_miss(b, t0, t0)
            return None
    finally:
        del gw.parts.pending[(board, rid)]
        if wire is not None:
            wire.add(call.wire)
    if call.vector is None:
        return None
    b.consecutive = 0
    b.last_result = time.monotonic()
    b.stats.latencies.append(b.last_result - t0)
    b.stats.compute_us.append(call.compute_us)
    return PartReply(board, call.vector, call.compute_us, b.last_result - t0, call.wire)


def _serving(gw: Gateway, boards: Sequence[str]) -> str | None:
    """The board to ask: the lowest-id board of the part that is up (replicas fail over)."""
    up = [gw.boards[n] for n in boards if _ready_board(gw, n) is not None]
    return min(up, key=lambda b: b.spec.id).spec.name if up else None


async def run_plan(
    gw: Gateway,
    plan: Generator,
    part_to_boards: Mapping[str, Sequence[str]],
    deadline_s: float,
    *,
    t0: float | None = None,
    steps: int = 1,
) -> tuple[Any, PlanAccounting]:
    """Drive a strategy's plan generator live: each step's calls in parallel, one request id
    for the whole request (stateful parts key their stages by it), replies in call order
    (None for a missing part). Step i (of ``steps``) must be answered by t0 + deadline_s *
    (i + 1) / steps, so a silent part costs its step's share and the later steps still run.
    Returns (the plan's Outcome, its accounting)."""
    t0 = time.monotonic() if t0 is None else t0
    rid = gw._new_rid()
    acct = PlanAccounting(request_id=rid)
    step = 0
    try:
        calls = next(plan)
        while True:
            step += 1
            deadline_t = t0 + deadline_s * min(step, max(steps, 1)) / max(steps, 1)
            replies = await asyncio.gather(
                *(_one_call(gw, part_to_boards, c, rid, deadline_t, acct) for c in calls)
            )
            calls = plan.send(list(replies))
    except StopIteration as stop:
        return stop.value, acct
    finally:
        gw._finished.append(rid)


async def _one_call(
    gw: Gateway,
    part_to_boards: Mapping[str, Sequence[str]],
    c: Any,
    rid: int,
    deadline_t: float,
    acct: PlanAccounting,
) -> np.ndarray | None:
    acct.calls += 1
    board = _serving(gw, part_to_boards.get(c.part, ()))
    reply = None
    if board is not None:
        tensor = np.asarray(c.tensor, np.int8).reshape(-1).tobytes()
        reply = await call_part(
            gw, board, int(c.stage), tensor, deadline_t, request_id=rid, wire=acct.wire
        )
    if reply is None:
        acct.missing.append(c.part)
        return None
    acct.compute_us.setdefault(c.part, []).append(reply.compute_us)
    return reply.vector


def part_strategy(dep: Any, given: Any = None) -> Any:
    """The strategy whose plan a deployment's gateway drives: None for "vp" (the vote), else
    ``given`` or the run's (``vp_edge.strategies.load_strategy``)."""
    if dep.strategy == "vp":
        return None
    if given is not None:
        return given
    from vp_edge.strategies import load_strategy

    return load_strategy(dep.run)


def parts_of(gw: Gateway) -> dict[str, list[str]]:
    """Part name -> the boards serving it (the deployment's ``variant`` of each board)."""
    out: dict[str, list[str]] = {}
    for b in gw.boards.values():
        out.setdefault(b.spec.variant, []).append(b.spec.name)
    return out


async def classify_plan(
    gw: Gateway, image: np.ndarray, index: int, label: int | None, t0: float, deadline_s: float
) -> Answer:
    """One request of a strategy deployment: the plan driven live, as one ``Answer``.

    ``winner`` is the Outcome's label; ``missing`` the boards of parts that gave no reply;
    ``degraded`` when the Outcome is not "ok"; ``error`` (the Outcome's note) when it failed.
    """
    parts = parts_of(gw)
    outcome, acct = await run_plan(
        gw, gw.strategy.plan(image), parts, deadline_s, t0=t0, steps=gw.strategy.steps
    )
    lost = set(outcome.missing) | set(acct.missing)
    missing = tuple(sorted(n for p in lost for n in parts.get(p, ())))
    answered = tuple(sorted(set(gw.boards) - set(missing)))
    failed = outcome.status == "failed" or outcome.label is None
    scores = () if outcome.scores is None else tuple(float(s) for s in outcome.scores)
    return Answer(
        index,
        acct.request_id,
        None if failed else int(outcome.label),
        scores,
        answered,
        answered,
        missing,
        outcome.status != "ok",
        time.monotonic() - t0,
        (outcome.note or "the strategy's plan failed") if failed else None,
        label,
        wire=acct.to_dict(),
    )


def check_part_hello(gw: Gateway, name: str, variant: str, h: fb.Hello) -> str | None:
    """A strategy board must run its part: k 0 for a tensor part, k = outputs for a scores
    part, and the part artefact's SHA-256."""
    part = gw.strategy.part(variant)
    want_k = 0 if part.reply == "tensor" else int(part.k)
    sha = gw.parts.artefact_sha256(part.artefact)
    facts = {"k": (h.k, want_k), "model_sha256": (h.model_sha256.hex(), sha)}
    bad = [f"{k} {got} (expected {exp})" for k, (got, exp) in facts.items() if got != exp]
    return f"board {name} does not run part {variant}: {'; '.join(bad)}" if bad else None
