"""The live gateway: fan an input out to every healthy board, collect RESULTs, vote by a deadline.

asyncio owns all request state; each link has a reader thread that decodes frames (its board's
own ``Auth``) and hands them to the loop with ``call_soon_threadsafe``. Per request:

1. quantize the input per variant with the card's scale/zero point (``preprocess.quantize``,
   exactly as offline evaluation) and send INFER chunks to each healthy board;
2. wait until every targeted board answered (RESULT or ERROR) or the deadline passed;
3. vote (``vote_boards``: one answer per variant, replicas resolved to the lowest board id,
   then ``vote.fuse``) and answer: winner, fused scores, voters, missing boards, ``degraded``.

A result whose request id is not pending (late or foreign) or that repeats a board's answer is
counted and never changes an answer. A board that misses ``fail_after`` requests in a row, or
is silent for three heartbeats, is marked failed and only PROBEd until it answers HELLO. A miss
counts towards that only while the gateway was keeping up (no event-loop lag or shed load since
the request began) and the board sent no result at all meanwhile: a board must not be judged
failed for the gateway's own overload.

Heartbeats catch a dead board between requests: a board that sent no frame for 1.5 heartbeat
periods (plus the deadline while a request is out to it: a computing board sends no heartbeat)
is marked down within two periods, and the requests waiting for it stop waiting. So a killed UDP
board, whose link never reports an error, costs no request the full deadline once it is down.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import numpy as np

import firmware_bridge as fb
from firmware_bridge import MsgType
from firmware_bridge.transport import Link, for_board, open_link
from vp_edge.cards import CardIndex
from vp_edge.deployment import BoardSpec, Deployment
from vp_edge.errors import GatewayError
from vp_edge.gateway.answer import Answer, Board
from vp_edge.gateway.health import BoardHealth
from vp_edge.gateway.hello import HelloCheck
from vp_edge.gateway.lag import HeapFreeze, LagWindow
from vp_edge.gateway.links import BoardLinks
from vp_edge.gateway.parts import (
    PartCalls,
    PartReply,
    call_part,
    classify_plan,
    part_strategy,
)
from vp_edge.gateway.relay import Relay
from vp_edge.gateway.stats import gateway_report
from vp_edge.gateway.tally import Pending
from vp_edge.gateway.tally import vote_boards as vote_boards  # re-exported: users import it here
from vp_edge.preprocess import quantize

LinkOpener = Callable[[BoardSpec, Path], Link]


def _cards_home(state_dir: Path) -> Path:
    """Where flash registers cards: the deployment's state folder (a shard's parent)."""
    return state_dir.parent if state_dir.name.startswith("gw-") else state_dir


def default_opener(spec: BoardSpec, pty_dir: Path) -> Link:
    return open_link(for_board(spec.link, spec.id), pty_dir=pty_dir, wait_s=0.0)


class Gateway(BoardLinks, HelloCheck, BoardHealth):
    """One deployment's boards behind one object; ``classify`` is one request."""

    def __init__(
        self,
        dep: Deployment,
        *,
        opener: LinkOpener = default_opener,
        fail_after: int = 2,
        probe_s: float = 0.25,
        strategy: object = None,
    ) -> None:
        from vp_edge.evaluate import load_cards
        from vp_edge.train import load_run_family, run_class_names

        self.dep, self.opener = dep, opener
        self.fail_after, self.probe_s = fail_after, probe_s
        self.parts = PartCalls(self)
        self.family = load_run_family(dep.run)
        #: a strategy deployment (not "vp"): its plan answers requests (default: the run's)
        self.strategy = part_strategy(dep, strategy)
        # vp: cards of another class order are refused; index i of an answer is class_names[i]
        self.cards = load_cards(dep.run, self.family) if self.strategy is None else {}
        self.class_names: list[str] = (
            list(run_class_names(dep.run, self.family) or ())
            if self.strategy is None
            else list(self.strategy.class_names)
        )
        self.num_classes = len(self.class_names)
        self.weights = self.family.weights() if dep.rule == "reference" else None
        self.card_index = CardIndex(dep.run, _cards_home(dep.state_dir), self.cards)
        #: the card of every model a board answered under (vote identity -> card)
        self.vote_cards: dict[str, dict] = dict(self.cards)
        # the master stays here: each board's frames use the key derived for its id
        self.keys = dep.board_keys
        self.boards = {b.name: self._board(b) for b in dep.boards}
        dep.make_state_dir()
        self.tx = fb.Sender(self.keys, fb.boot_counter(dep.epoch_file), from_gateway=True)
        self.counts = dict.fromkeys(
            (
                "duplicate",
                "late",
                "foreign",
                "bad_result",
                "unexpected",
                "link_down",
                "backlog",
                "flashing",
            ),
            0,
        )
        self.answers: list[Answer] = []
        self._pending: dict[int, Pending] = {}
        self._finished: deque[int] = deque(maxlen=4096)
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._probe_task: asyncio.Task | None = None
        self._lag_task: asyncio.Task | None = None
        self.relay: Relay | None = None
        self.overloaded_at = -1.0  # last time the gateway itself fell behind (see note_overload)
        self.lag_window = LagWindow()  # lag samples of the last seconds (gateway_lag)
        self._index = 0

    @property
    def relay_home(self) -> Path:
        """The folder of the deployment's relay socket (a shard's parent, as for cards)."""
        return _cards_home(self.dep.state_dir)

    # -- life cycle ----------------------------------------------------------------------------
    async def start(self, hello_timeout: float = 5.0) -> None:
        """Open links (reader threads), PROBE every board, wait for HELLOs up to the timeout."""
        self._loop = asyncio.get_running_loop()
        for b in self.boards.values():
            t = threading.Thread(
                target=self._reader, args=(b,), daemon=True, name=f"link-{b.spec.name}"
            )
            t.start()
            self._threads.append(t)
        end = time.monotonic() + hello_timeout
        while time.monotonic() < end:
            waiting = [b for b in self.boards.values() if not b.up and b.refused is None]
            if not waiting:
                break
            for b in waiting:
                if b.link is not None:
                    self._send(b, fb.Probe(MsgType.HELLO), 0)
            await asyncio.sleep(0.1)
        self._probe_task = asyncio.create_task(self._probe_loop())
        self._lag_task = asyncio.create_task(self._lag_loop())
        HeapFreeze.hold(self)
        relay = Relay(self, self.relay_home)
        if relay.open() and relay.sock is not None:  # tools reach the serial boards it holds
            self.relay = relay
            self._loop.add_reader(relay.sock.fileno(), relay.on_readable)

    async def close(self) -> None:
        self._closing.set()
        HeapFreeze.release(self)
        if self.relay is not None and self.relay.sock is not None and self._loop is not None:
            self._loop.remove_reader(self.relay.sock.fileno())
            self.relay.close()
        for task in (self._probe_task, self._lag_task):
            if task:
                task.cancel()
        for t in self._threads:
            await asyncio.to_thread(t.join, 2.0)
        for b in self.boards.values():
            if b.link is not None:
                b.link.close()

    # -- frames (event loop) -------------------------------------------------------------------
    def _on_frames(self, b: Board, frames: list[fb.Frame], t: float) -> None:
        for f in frames:
            b.last_seen = t
            if self.parts.take(b, f) or (self.relay is not None and self.relay.take(b, f)):
                continue
            if isinstance(f.msg, fb.Hello):
                self._on_hello(b, f.msg)
            elif isinstance(f.msg, fb.Heartbeat):
                b.stats.heartbeats += 1
                b.stats.heartbeats_down += int(not b.up)
                if not b.up and b.refused is None:
                    self._send(b, fb.Probe(MsgType.HELLO), 0)
            elif isinstance(f.msg, fb.Result):
                self._on_result(b, f, t)
            elif isinstance(f.msg, fb.Error):
                self._on_error(b, f)
            else:
                self.drop(b, "unexpected")

    def _on_result(self, b: Board, f: fb.Frame, t: float) -> None:
        msg = cast(fb.Result, f.msg)
        b.last_result = t  # alive, even when late: a backlog is not a failure
        req = self._pending.get(f.request_id)
        if req is None or b.spec.name not in req.targets:
            self.drop(b, "late" if f.request_id in self._finished else "foreign")
            return
        name = b.spec.name
        if name in req.dropped:
            self.drop(b, "late")
            return
        if name in req.results or name in req.failed:
            self.drop(b, "duplicate")
            return
        pairs = msg.pairs
        if (
            len(pairs) != self.dep.k
            or any(c >= self.num_classes for c, _ in pairs)
            or len({c for c, _ in pairs}) != len(pairs)
        ):
            self.drop(b, "bad_result")
            return
        req.results[name] = (pairs, t)
        b.stats.latencies.append(t - req.sent[name])
        b.stats.compute_us.append(msg.compute_us)
        self._maybe_done(req)

    def _on_error(self, b: Board, f: fb.Frame) -> None:
        msg = cast(fb.Error, f.msg)
        b.stats.count_error(msg.status)
        if msg.status == fb.Status.STALE_COUNTER and msg.detail:
            # the board knows a newer gateway-side sender (a later flash, a forged counter):
            # answering its challenge opens this gateway's own window (docs/protocol.md §4)
            self._send(b, fb.Probe(MsgType.HELLO), msg.detail)
            return
        req = self._pending.get(f.request_id)
        name = b.spec.name
        if req is not None and name in req.targets and name not in req.results:
            req.failed.add(name)
            self._maybe_done(req)

    @staticmethod
    def _maybe_done(req: Pending) -> None:
        if len(req.results) + len(req.failed | req.dropped) >= len(req.targets):
            req.done.set()

    # -- requests ------------------------------------------------------------------------------
    async def classify(
        self,
        image: np.ndarray,
        label: int | None = None,
        t0: float | None = None,
        deadline_s: float | None = None,
        client_id: object = None,
    ) -> Answer:
        """One request: exactly one Answer (``error`` set when no board answered).

        ``t0`` is when the request arrived (``time.monotonic()``): the deadline counts from
        there, so time spent queued or decoding is not added on top of it. ``deadline_s``
        (default: the deployment's) lets a front end answer early enough to reply in time.
        ``client_id`` (the client's own request id) is kept on the answer for the status page.
        """
        t0 = time.monotonic() if t0 is None else t0
        deadline_s = self.dep.deadline_s if deadline_s is None else deadline_s
        index, self._index = self._index, self._index + 1
        if self.strategy is not None:
            answer = await classify_plan(self, image, index, label, t0, deadline_s)
        else:
            answer = await self._classify_vote(image, index, label, t0, deadline_s)
        answer.client_id, answer.at = client_id, time.time()
        self.answers.append(answer)
        return answer

    async def _classify_vote(
        self, image: np.ndarray, index: int, label: int | None, t0: float, deadline_s: float
    ) -> Answer:
        rid = self._new_rid()
        tensors: dict[str, bytes] = {}
        req = Pending(rid, set(), {}, t0)
        self._pending[rid] = req
        for b in self.boards.values():
            if not b.up:
                continue
            if b.backlogged(self._pending.values()):  # answers late anyway: not asked
                self.drop(b, "backlog")
                continue
            if self.relay is not None and self.relay.flashing(b):  # its line is the flash's
                self.drop(b, "flashing")
                continue
            v = b.model or b.spec.variant
            if v not in tensors:  # each board's input under its own model's card
                c = b.card or self.cards[b.spec.variant]
                tensors[v] = quantize(image, c["input_scale"], c["input_zero_point"]).tobytes()
            sent = time.monotonic()  # before the send: a fast board may answer before it returns
            if self._send_infer(b, tensors[v], rid):
                req.targets.add(b.spec.name)
                req.sent[b.spec.name] = sent
                req.models[b.spec.name] = v  # the model it was asked under votes
            else:  # its link is gone (e.g. the pty of a dead board): down like a silent board
                b.stats.misses += 1
                b.consecutive += 1
                if b.consecutive >= self.fail_after:
                    self.mark_down(b, f"its link {b.spec.link} is closed")
        if req.targets:
            left = deadline_s - (time.monotonic() - t0)
            try:
                await asyncio.wait_for(req.done.wait(), left)
            except TimeoutError:
                pass
        del self._pending[rid]
        self._finished.append(rid)
        return self._answer(index, req, time.monotonic() - t0, label)

    def _new_rid(self) -> int:
        while True:
            rid = random.getrandbits(32)
            if rid and rid not in self._pending and rid not in self._finished:
                return rid

    def _send_infer(self, b: Board, tensor: bytes, rid: int) -> bool:
        max_frame = min(b.hello.max_frame if b.hello else fb.MAX_FRAME, fb.MAX_FRAME)
        chunks = fb.split_infer(tensor, max_frame=max_frame, secure=self.dep.key is not None)
        return all(self._send(b, c, rid) for c in chunks)

    def _answer(self, index: int, req: Pending, latency: float, label: int | None) -> Answer:
        for name, b in self.boards.items():
            if name in req.results:
                b.consecutive = 0
            elif name in req.targets:
                self.note_miss(b, req.t0, req.sent.get(name, 0.0))
        answered = tuple(sorted(req.results))
        missing = tuple(sorted(set(self.boards) - set(req.results)))
        if not req.results:
            why = "no board answered within the deadline" if req.targets else "no board is up"
            return Answer(index, req.rid, None, (), (), (), missing, True, latency, why, label)
        results = {
            n: (self.boards[n].spec.id, req.models[n], p) for n, (p, _) in req.results.items()
        }
        vote, voters = vote_boards(
            results, self.vote_cards, self.num_classes, self.dep.rule, self.weights
        )
        models = {n: req.models[n] for n in answered}
        return Answer(
            index,
            req.rid,
            vote.winner,
            vote.scores,
            voters,
            answered,
            missing,
            bool(missing),
            latency,
            None,
            label,
            models=models
            if any("@" in m or m != self.boards[n].spec.variant for n, m in models.items())
            else None,
        )

    async def call_part(
        self, board: str, stage: int, tensor: bytes, deadline_t: float
    ) -> PartReply | None:
        """One part call (``vp_edge.gateway.parts.call_part``): the board's whole int8 output
        for ``stage`` of ``tensor``, or None (down, ERROR, past ``deadline_t``)."""
        return await call_part(self, board, stage, tensor, deadline_t)

    # -- reporting -----------------------------------------------------------------------------
    def report(self) -> dict:
        """Per-board latency, misses, drops by reason, bytes; answers summary (JSON-able)."""
        return gateway_report(self, self.answers)


async def run_inputs(
    gw: Gateway,
    images: Sequence[np.ndarray] | np.ndarray,
    labels: Sequence[int] | None = None,
    inflight: int = 1,
    on_request: Callable[[int], None] | None = None,
    on_answer: Callable[[Answer], None] | None = None,
) -> list[Answer]:
    """Classify every image (up to ``inflight`` requests at once), in order of the inputs."""
    if inflight < 1:
        raise GatewayError(f"inflight must be >= 1, got {inflight}")
    sem = asyncio.Semaphore(inflight)

    async def one(i: int) -> Answer:
        async with sem:
            if on_request is not None:
                on_request(i)
            a = await gw.classify(images[i], None if labels is None else int(labels[i]))
            if on_answer is not None:
                on_answer(a)
            return a

    return list(await asyncio.gather(*(one(i) for i in range(len(images)))))
