"""Admission by measured capacity: how many requests the gateway lets in at once, and which
of the others may wait.

A fixed cap on requests in flight collapses under overload: once more requests are in flight
than the boards finish within the deadline, every request waits behind the others, most miss
their deadline, and the boards spend their time on answers nobody will take. So the cap
(``limit``) follows what the boards complete: it grows by one per window of answers served
faster than the target (0.3 of the deadline) and shrinks by a fifth, at most once per service
time, when they come slower (additive increase, multiplicative decrease, as TCP does with its
window). A request that finds the gateway full waits in a FIFO only when the requests ahead of
it and its own service still fit in its deadline (estimated from the measured service time and
the limit); otherwise it is refused at once, before its image is decoded. ``can_queue`` is the
same test for the UDP reader thread, which answers ``busy`` without handing the request to the
event loop at all.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

TARGET_SHARE = 0.3  # service time the limit aims at, as a share of the deadline
DECREASE = 0.8  # the limit's factor when answers come slower than the target
EWMA = 0.2  # weight of a new service-time sample


class Admission:
    """Requests in flight bounded by a limit that follows measured service times."""

    def __init__(self, max_inflight: int, max_queue: int, deadline_s: float) -> None:
        self.max_inflight, self.max_queue, self.deadline_s = max_inflight, max_queue, deadline_s
        self.limit = float(max_inflight)
        self.inflight = 0
        self.service_s = deadline_s / 4  # until measured
        self.queue: deque[tuple[asyncio.Future, float]] = deque()
        self._cut_at = 0.0

    @property
    def waiting(self) -> int:
        return len(self.queue)

    def _wait_s(self, ahead: int) -> float:
        """Expected wait behind ``ahead`` requests: each slot frees once per service time."""
        return (ahead + 1) * self.service_s / max(self.limit, 1.0)

    def can_queue(self, elapsed_s: float, backlog: int = 0) -> bool:
        """Whether a request ``elapsed_s`` old, behind ``backlog`` not yet admitted, could
        still start and be served within the deadline (read from other threads too)."""
        if self.inflight < int(self.limit):
            return True
        ahead = len(self.queue) + backlog
        return (
            ahead < self.max_queue
            and elapsed_s + self._wait_s(ahead) + self.service_s <= self.deadline_s
        )

    async def enter(self, t0: float) -> bool:
        """Take a slot for a request that arrived at ``t0``; False (take nothing) when it
        could not be served within the deadline."""
        elapsed = time.monotonic() - t0
        if self.inflight == 0:  # an idle gateway always serves one: the estimate stays fresh
            self.inflight += 1
            return True
        if self.inflight < int(self.limit):
            if elapsed + self.service_s > self.deadline_s:
                return False
            self.inflight += 1
            return True
        if not self.can_queue(elapsed):
            return False
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self.queue.append((fut, t0))
        try:
            return await asyncio.wait_for(fut, self.deadline_s - self.service_s - elapsed)
        except TimeoutError:  # not handed a slot in time (a slot handed meanwhile counts)
            return fut.done() and not fut.cancelled() and fut.result()

    def leave(self, service_s: float | None = None) -> None:
        """Free a slot (``service_s``: how long an answered request took) and hand free slots
        to the waiting requests that can still make their deadline, oldest first."""
        self.inflight -= 1
        if service_s is not None:
            self._measure(service_s)
        now = time.monotonic()
        while self.queue and self.inflight < max(int(self.limit), 1):
            fut, t0 = self.queue.popleft()
            if fut.done():
                continue  # timed out or cancelled
            if now - t0 + self.service_s > self.deadline_s:
                fut.set_result(False)  # too late to serve: busy now rather than late
                continue
            self.inflight += 1
            fut.set_result(True)

    def _measure(self, service_s: float) -> None:
        self.service_s += EWMA * (service_s - self.service_s)
        now = time.monotonic()
        if service_s > self.deadline_s * TARGET_SHARE:
            if now - self._cut_at > self.service_s:  # once per service time, as once per RTT
                self.limit = max(1.0, self.limit * DECREASE)
                self._cut_at = now
        elif self.inflight + 1 >= int(self.limit):  # the limit was what held requests back
            self.limit = min(float(self.max_inflight), self.limit + 1.0 / self.limit)

    def to_dict(self) -> dict:
        return {
            "limit": round(self.limit, 2),
            "inflight": self.inflight,
            "waiting": len(self.queue),
            "service_ms": round(self.service_s * 1000, 1),
        }
