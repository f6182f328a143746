"""How late the gateway's event loop wakes, and how long a request may then wait for boards.

A loaded gateway process wakes late: its asyncio loop waits for the interpreter lock behind the
board links' threads. A request that waits for boards until ``deadline - reserve`` is answered
``lag`` after that, so the reserve must cover the lag a request will meet, not the lag of the
moment it started. ``LagWindow`` keeps the loop's lag samples of the last few seconds and gives
a high quantile of them; ``plan_wait`` turns that into the time to stop waiting for boards, or
into an explicit ``busy`` when the loop is so late that no useful wait is left (the request
would be answered past the deadline, or without giving the boards any time).

A full garbage collection stops the loop too, for as long as it takes to scan every object of
the process: about 12 ms in a gateway process, 160 ms in one that also holds TensorFlow and a
Keras model (a notebook, a test run). ``HeapFreeze`` keeps what existed when a gateway started
out of those scans while a gateway runs.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import deque
from dataclasses import dataclass

LAG_WINDOW_S = 5.0  # how far back lag samples count
LAG_QUANTILE = 0.99  # the share of wake-ups the reserve covers
MIN_RESERVE = 0.1  # share of the deadline kept even when the loop is idle
REPLY_S = 0.02  # from waking to the reply leaving the process, on top of the lag
MAX_RESERVE = 0.5  # past this share of the deadline for the reserve, answer busy instead
#: a loop whose high lag is at most this keeps up: it keeps only ``MIN_RESERVE`` of the deadline
IDLE_LAG_S = 0.005


class LagWindow:
    """Event-loop lag samples (seconds) of the last ``window_s`` seconds."""

    def __init__(self, window_s: float = LAG_WINDOW_S, max_samples: int = 4096) -> None:
        self.window_s = window_s
        self.samples: deque[tuple[float, float]] = deque(maxlen=max_samples)

    def add(self, lag_s: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.samples.append((now, max(0.0, lag_s)))
        while self.samples and now - self.samples[0][0] > self.window_s:
            self.samples.popleft()

    def high(self, q: float = LAG_QUANTILE, now: float | None = None) -> float:
        """The ``q`` quantile of the lag over the window (0 with no samples)."""
        now = time.monotonic() if now is None else now
        snapshot = list(self.samples)  # one C-level copy: front-end threads call this too
        recent = sorted(lag for t, lag in snapshot if now - t <= self.window_s)
        if not recent:
            return 0.0
        return recent[min(len(recent) - 1, int(q * len(recent)))]


@dataclass(frozen=True)
class WaitPlan:
    """When to stop waiting for boards (seconds after arrival), or why to answer busy."""

    stop_s: float
    reserve_s: float
    busy: str | None = None


def reserve_for(deadline_s: float, lag_s: float) -> float:
    """Time kept between stopping the wait and the deadline: the lag plus replying, at least
    ``MIN_RESERVE`` of the deadline. A loop that keeps up (lag at most ``IDLE_LAG_S``) keeps
    ``MIN_RESERVE`` only: ``REPLY_S`` is for a loaded loop, and under a 200 ms deadline it would
    otherwise pass for lag on an idle gateway and end every wait 40 ms early (at 60 of 100 ms,
    before any board on a 115200-baud line could answer)."""
    if lag_s <= IDLE_LAG_S:
        return deadline_s * MIN_RESERVE
    return max(deadline_s * MIN_RESERVE, lag_s + REPLY_S)


def lag_too_high(deadline_s: float, lag_s: float) -> bool:
    """Whether the loop is so late that requests should be turned away (``busy``)."""
    return reserve_for(deadline_s, lag_s) > deadline_s * MAX_RESERVE


def plan_wait(deadline_s: float, elapsed_s: float, lag_s: float, need_s: float) -> WaitPlan:
    """Plan one request that has been ``elapsed_s`` in the gateway, with the loop's high lag
    ``lag_s`` and ``need_s`` the time a request takes now (for the message only when busy).

    Busy when the reserve the lag needs is over half the deadline, or when nothing is left to
    wait for boards after it; otherwise stop waiting ``reserve`` before the deadline.
    """
    reserve = reserve_for(deadline_s, lag_s)
    stop = deadline_s - reserve
    if reserve > deadline_s * MAX_RESERVE:
        return WaitPlan(
            stop,
            reserve,
            f"the event loop wakes {lag_s * 1000:.0f} ms late, "
            f"over half the {deadline_s * 1000:.0f} ms deadline",
        )
    if stop - elapsed_s <= 0:
        return WaitPlan(
            stop,
            reserve,
            f"{(deadline_s - elapsed_s) * 1000:.0f} ms left of the "
            f"deadline, {reserve * 1000:.0f} ms of it kept for a late loop; a "
            f"request takes about {need_s * 1000:.0f} ms",
        )
    return WaitPlan(stop, reserve)


def stop_waiting_now(deadline_s: float, elapsed_s: float, lag_s: float, tick_s: float) -> bool:
    """Whether a request still waiting for boards must stop at this tick of the lag loop.

    The next tick comes ``tick_s`` plus the lag later; a request that would then reply past
    its deadline stops now, with the boards that answered. Only while the loop lags (the lag's
    reserve is past the idle minimum): a gateway that keeps up keeps each request's own
    deadline. This catches requests planned before the lag rose (``plan_wait`` only sees the
    lag of the moment a request starts waiting). Never before half the deadline: ``plan_wait``
    turns a lag that large away as ``busy``, and a request already waiting keeps at least that.
    """
    if reserve_for(deadline_s, lag_s) <= deadline_s * MIN_RESERVE:
        return False
    if elapsed_s < deadline_s * (1 - MAX_RESERVE):
        return False
    return elapsed_s + tick_s + lag_s + REPLY_S >= deadline_s


class HeapFreeze:
    """``gc.freeze()`` while at least one gateway of the process runs, ``gc.unfreeze()`` after
    the last one closes: the objects made before start (imports, cards, a whole framework) are
    not scanned by the collections a running gateway meets, and nothing stays frozen after."""

    _lock = threading.Lock()
    _holders: set[int] = set()

    @classmethod
    def hold(cls, owner: object) -> None:
        with cls._lock:
            cls._holders.add(id(owner))
            gc.freeze()  # again for a later gateway: what the first one made is start-up too

    @classmethod
    def release(cls, owner: object) -> None:
        with cls._lock:
            if id(owner) in cls._holders:
                cls._holders.discard(id(owner))
                if not cls._holders:
                    gc.unfreeze()
