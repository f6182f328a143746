"""Board health for the gateway: misses, heartbeats, the gateway's own overload.

A board is marked down (``mark_down``, with its reason) when it misses ``fail_after`` requests
in a row while the gateway kept up, or when it is silent (``silent``): no frame for 1.5
heartbeat periods, plus the deadline while a request is out to it. Requests waiting for a board
marked down stop waiting for it. Down boards are PROBEd until they answer HELLO.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import firmware_bridge as fb
from firmware_bridge import MsgType
from vp_edge.gateway.lag import stop_waiting_now

if TYPE_CHECKING:  # pragma: no cover
    from vp_edge.deployment import Deployment
    from vp_edge.gateway.answer import Board


class BoardHealth:
    """The ``Gateway``'s health half (a mixin: it uses the gateway's boards, pending requests,
    deployment and lag window)."""

    # what the gateway that mixes this in provides
    dep: Deployment
    boards: dict[str, Board]
    fail_after: int
    probe_s: float
    overloaded_at: float
    _pending: dict[int, Any]

    def _maybe_done(self, req: Any) -> None:
        raise NotImplementedError  # the gateway's own

    def note_overload(self) -> None:
        """The gateway fell behind (event-loop lag, or a front end shed load)."""
        self.overloaded_at = time.monotonic()

    def note_miss(self, b: Board, t0: float, sent: float) -> None:
        """``b`` did not answer a request that arrived at ``t0`` and went to it at ``sent``.
        The miss is excused when the gateway was overloaded since ``t0`` or the board sent a
        result since ``sent``; else ``fail_after`` misses in a row mark the board down until
        it answers HELLO again."""
        b.stats.misses += 1
        if self.overloaded_at >= t0 or b.last_result >= sent:
            b.stats.excused += 1
            return
        b.consecutive += 1
        if b.consecutive >= self.fail_after:
            self.mark_down(b, f"missed {b.consecutive} requests in a row")

    def mark_down(self, b: Board, why: str) -> None:
        """Take ``b`` out of service (PROBEd until it answers HELLO); requests waiting for it
        stop waiting, so no request pays the deadline for a board known to be down."""
        if b.up:
            b.up, b.down_why, b.down_at = False, why, time.monotonic()
        for req in self._pending.values():
            name = b.spec.name
            if name in req.targets and name not in req.results:
                req.dropped.add(name)
                self._maybe_done(req)

    async def _lag_loop(self, tick: float = 0.02) -> None:
        """Measure event-loop lag; past a quarter of the deadline the gateway is behind."""
        limit = max(0.02, self.dep.deadline_s / 4)
        while True:
            t = time.monotonic()
            await asyncio.sleep(tick)
            lag = time.monotonic() - t - tick
            self.lag_window.add(lag)
            self._stop_late_waits(tick)
            if lag > limit:
                self.note_overload()

    def _stop_late_waits(self, tick: float) -> None:
        """End the wait of requests the loop's lag would answer past the deadline (gateway_lag).
        A board they miss counts only when it sent no result at all meanwhile (note_miss)."""
        lag, now = self.lag_window.high(), time.monotonic()
        for req in self._pending.values():
            if stop_waiting_now(self.dep.deadline_s, now - req.t0, lag, tick):
                req.done.set()

    async def _probe_loop(self) -> None:
        """PROBE failed boards until they answer HELLO; mark silent boards down (``silent``).
        Ticks at an eighth of a heartbeat (at most ``probe_s``) so a dead board is down within
        two heartbeat periods; PROBEs go out every ``probe_s``."""
        tick = min(self.probe_s, self.dep.heartbeat_s / 8)
        last_probe = 0.0
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for b in self.boards.values():
                why = self.silent(b, now) if b.up else None
                if why:
                    self.mark_down(b, why)
            if now - last_probe >= self.probe_s:
                last_probe = now
                for b in self.boards.values():
                    if not b.up and b.refused is None:
                        self._send(b, fb.Probe(MsgType.HELLO), 0)

    def silent(self, b: Board, now: float) -> str | None:
        """Why ``b`` counts as dead by its missing heartbeats, or None: its reader thread looked
        after 1.5 heartbeat periods (plus the deadline while a request is out to it) without an
        authentic frame. Timed by the reader thread, so neither a lagging event loop nor a
        starved reader thread passes for a silent board."""
        hb = self.dep.heartbeat_s
        name = b.spec.name
        busy = any(
            name in r.targets and name not in r.results and name not in r.failed | r.dropped
            for r in self._pending.values()
        )
        heard = max(b.heard, b.last_seen)
        limit = 1.5 * hb + (self.dep.deadline_s if busy else 0.0)
        if now - heard <= limit or b.polled - heard <= limit or self._all_quiet(b, now):
            return None
        return f"no heartbeat for {now - heard:.1f} s (heartbeat every {hb:g} s)"

    def _all_quiet(self, b: Board, now: float) -> bool:
        """Every other board that is up missed a heartbeat too: the gateway's machine stalled
        (or the network), not this board; misses (``note_miss``) still catch a dead one."""
        others = [o for o in self.boards.values() if o is not b and o.up]
        hb = self.dep.heartbeat_s
        return bool(others) and all(now - max(o.heard, o.last_seen) > hb for o in others)
