"""The wait rule of a loaded gateway (vp_edge.gateway.lag), with injected lag values and clocks."""

from __future__ import annotations

import pytest

from vp_edge.gateway.lag import (
    MIN_RESERVE,
    REPLY_S,
    LagWindow,
    lag_too_high,
    plan_wait,
    reserve_for,
    stop_waiting_now,
)

DEADLINE = 0.5


def test_idle_loop_keeps_a_tenth_of_the_deadline() -> None:
    plan = plan_wait(DEADLINE, elapsed_s=0.01, lag_s=0.0, need_s=0.03)
    assert plan.busy is None
    assert plan.reserve_s == pytest.approx(DEADLINE * MIN_RESERVE)
    assert plan.stop_s == pytest.approx(0.45)


@pytest.mark.parametrize("lag", [0.05, 0.1, 0.15, 0.2, 0.229])
def test_reply_leaves_by_the_deadline_when_the_loop_wakes_lag_late(lag: float) -> None:
    plan = plan_wait(DEADLINE, elapsed_s=0.0, lag_s=lag, need_s=0.1)
    assert plan.busy is None
    # the wait ends at stop_s; the loop wakes `lag` later; replying takes REPLY_S more
    assert plan.stop_s + lag + REPLY_S <= DEADLINE + 1e-9
    assert plan.stop_s > 0.2  # the boards still get most of the deadline


@pytest.mark.parametrize("lag", [0.24, 0.3, 0.6])
def test_lag_over_half_the_deadline_is_busy(lag: float) -> None:
    assert lag_too_high(DEADLINE, lag)
    plan = plan_wait(DEADLINE, elapsed_s=0.0, lag_s=lag, need_s=0.1)
    assert plan.busy is not None and "late" in plan.busy


def test_no_time_left_after_the_reserve_is_busy() -> None:
    lag = 0.15
    stop = DEADLINE - reserve_for(DEADLINE, lag)
    assert plan_wait(DEADLINE, elapsed_s=stop - 0.01, lag_s=lag, need_s=0.1).busy is None
    busy = plan_wait(DEADLINE, elapsed_s=stop + 0.001, lag_s=lag, need_s=0.1).busy
    assert busy is not None and "left of the deadline" in busy


def test_window_high_quantile_remembers_a_spike_for_the_window() -> None:
    w = LagWindow(window_s=5.0)
    for i in range(99):
        w.add(0.001, now=100.0 + i * 0.02)
    w.add(0.180, now=102.0)
    assert w.high(q=0.99, now=102.0) == pytest.approx(0.180)
    assert w.high(q=0.5, now=102.0) == pytest.approx(0.001)
    # still there 4 s later (a decaying maximum would have forgotten it in ~0.1 s) ...
    assert w.high(q=0.99, now=106.0) == pytest.approx(0.180)
    # ... and gone once it is older than the window
    w.add(0.002, now=107.5)
    assert w.high(q=0.99, now=107.5) == pytest.approx(0.002)


def test_empty_window_is_no_lag() -> None:
    assert LagWindow().high(now=5.0) == 0.0


def test_idle_loop_never_cuts_a_wait_short() -> None:
    assert not stop_waiting_now(DEADLINE, elapsed_s=0.49, lag_s=0.002, tick_s=0.02)


def test_lagging_loop_cuts_the_wait_one_tick_ahead() -> None:
    lag, tick = 0.1, 0.02
    last = DEADLINE - tick - lag - REPLY_S  # later than this, the next tick replies too late
    assert not stop_waiting_now(DEADLINE, elapsed_s=last - 0.01, lag_s=lag, tick_s=tick)
    assert stop_waiting_now(DEADLINE, elapsed_s=last + 0.001, lag_s=lag, tick_s=tick)


def test_even_a_huge_lag_leaves_half_the_deadline_to_the_boards() -> None:
    assert not stop_waiting_now(DEADLINE, elapsed_s=0.2, lag_s=0.46, tick_s=0.02)
    assert stop_waiting_now(DEADLINE, elapsed_s=0.25, lag_s=0.46, tick_s=0.02)


SHORT = 0.1  # a deadline under 200 ms: REPLY_S alone is over MIN_RESERVE of it


def test_idle_loop_waits_a_short_deadline_out() -> None:
    """At 100 ms an idle loop keeps a tenth of the deadline, not REPLY_S + a tick (which ended
    every wait at 60 ms, before a board on a 115200-baud line could answer)."""
    assert not stop_waiting_now(SHORT, elapsed_s=0.095, lag_s=0.002, tick_s=0.02)
    plan = plan_wait(SHORT, elapsed_s=0.001, lag_s=0.002, need_s=0.01)
    assert plan.busy is None and plan.stop_s == pytest.approx(SHORT * (1 - MIN_RESERVE))


def test_lagging_loop_still_cuts_a_short_deadline() -> None:
    lag, tick = 0.01, 0.02
    assert reserve_for(SHORT, lag) == pytest.approx(lag + REPLY_S)
    assert not stop_waiting_now(SHORT, elapsed_s=0.049, lag_s=lag, tick_s=tick)
    assert stop_waiting_now(SHORT, elapsed_s=0.051, lag_s=lag, tick_s=tick)


def test_heap_frozen_while_any_gateway_runs_and_released_after_the_last():
    import gc

    from vp_edge.gateway.lag import HeapFreeze

    gc.unfreeze()
    first, second = object(), object()
    HeapFreeze.hold(first)
    HeapFreeze.hold(second)
    frozen = gc.get_freeze_count()
    assert frozen > 0  # the objects that exist now are out of the collector's scans
    HeapFreeze.release(first)
    assert gc.get_freeze_count() >= frozen  # the second gateway still runs
    HeapFreeze.release(first)  # a second close of the same gateway changes nothing
    assert gc.get_freeze_count() >= frozen
    HeapFreeze.release(second)
    assert gc.get_freeze_count() == 0  # nothing stays frozen after the last gateway
