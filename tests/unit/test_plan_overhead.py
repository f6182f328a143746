"""The planner's per-request overhead of UDP and serial boards (vp_edge.plan.overhead)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from test_plan import FLEET, synthetic_costs

from vp_edge.plan import make_plan
from vp_edge.plan.costs import HOST_FACTORS, host_factor
from vp_edge.plan.fleet import parse_fleet
from vp_edge.plan.overhead import (
    SerialOverhead,
    UdpOverhead,
    fit_rest,
    parse_overhead,
    parse_serial,
)
from vp_edge.plan.search import kept_share

UDP = UdpOverhead(0.2, {"linux": (2.0, 0.25), "pynq": (2.5, 0.25)})
SERIAL = SerialOverhead(2.4, 1.5, 7.6)


def test_board_part_scales_by_the_profile_factor_the_rest_by_fleet_size() -> None:
    assert UDP.ms("linux", 4.0, boards=1) == pytest.approx(0.2 * 4 + 2.0)
    assert UDP.ms("linux", 4.0, boards=6) == pytest.approx(0.2 * 4 + 2.0 + 0.25 * 5)
    assert UDP.ms("pynq", 12.0, boards=6) == pytest.approx(0.2 * 12 + 2.5 + 0.25 * 5)
    assert UDP.ms("mcu", 1.0, boards=2) == pytest.approx(0.2 + 2.5 + 0.25)  # the largest rest
    # an emulated board (the daemon at the host's speed) is held by what the board adds
    assert UDP.hold_ms(4.0) == pytest.approx(0.2 * 3) and UDP.hold_ms(0.5) == 0.0
    assert host_factor("raspberry-pi-4") == HOST_FACTORS["raspberry-pi-4"][1]
    assert host_factor("not-listed") == 1.0


def test_rest_fit_shares_one_slope_across_kinds() -> None:
    points = {
        "linux": [(2, 2.0 + 0.3), (6, 2.0 + 0.3 * 5)],
        "pynq": [(2, 2.5 + 0.3), (6, 2.5 + 0.3 * 5), (2, 2.5 + 0.3)],
    }
    fit = fit_rest(points)
    assert fit["linux"] == pytest.approx((2.0, 0.3)) and fit["pynq"] == pytest.approx((2.5, 0.3))
    with pytest.raises(ValueError, match="two fleet sizes"):
        fit_rest({"linux": [(2, 1.0), (2, 1.2)]})


def test_costs_file_entry_round_trips() -> None:
    doc = {"board_ms": 0.2, "rest_ms": {"linux": {"base": 2.0, "per_board": 0.25}}}
    assert parse_overhead(json.loads(json.dumps(doc))) == UdpOverhead(0.2, {"linux": (2.0, 0.25)})
    assert parse_overhead(None) is None


def test_plan_adds_the_overhead_to_udp_boards_only() -> None:
    costs = dataclasses.replace(synthetic_costs(), udp=UDP)
    rows = {r.board: r.estimate for r in make_plan(parse_fleet(FLEET), costs=costs).rows}
    boards = 3  # FLEET's network boards: 2 Pis, 1 PYNQ (the 2 F405s answer over serial)
    pi, pynq, f405 = rows["pi-1"], rows["pynq"], rows["f405-1"]
    assert pi.overhead_ms == pytest.approx(UDP.ms("linux", 4.0, boards))
    assert pynq.overhead_ms == pytest.approx(UDP.ms("pynq", 12.0, boards))
    assert f405.overhead_ms == 0.0  # serial: the line's bytes, not a daemon's Python
    assert pi.total_ms == pytest.approx(pi.compute_ms + pi.link_ms + pi.overhead_ms)


def test_serial_term_grows_with_the_fleets_serial_boards_and_round_trips() -> None:
    assert SERIAL.ms(1) == pytest.approx(2.4) and SERIAL.ms(3) == pytest.approx(2.4 + 2 * 1.5)
    assert SERIAL.ms(0) == pytest.approx(2.4)
    doc = {"base_ms": 2.4, "per_board_ms": 1.5, "spread_ms": 7.6, "fleets": []}
    assert parse_serial(json.loads(json.dumps(doc))) == SERIAL
    assert parse_serial(None) is None


def test_plan_adds_the_serial_term_and_keeps_the_spread_before_the_cut_off() -> None:
    """A serial board is planned at compute + line + its term, with the spread of its replies
    kept free before the gateway's cut-off; a board whose p50 fits but whose late replies
    would miss is refused, naming the margin."""
    costs = dataclasses.replace(synthetic_costs(), udp=UDP, serial=SERIAL)
    fleet = FLEET | {"deadline_ms": 110}
    rows = {r.board: r.estimate for r in make_plan(parse_fleet(fleet), costs=costs).rows}
    f405, pi = rows["f405-1"], rows["pi-1"]
    assert f405.overhead_ms == pytest.approx(SERIAL.ms(2))  # FLEET's two serial boards
    assert (f405.spread_ms, pi.spread_ms) == (7.6, 0.0)
    assert f405.total_ms == pytest.approx(f405.compute_ms + f405.link_ms + SERIAL.ms(2))
    # the p95 reply, not only the p50, comes before the gateway stops waiting (99 ms)
    assert f405.total_ms + f405.spread_ms <= 0.9 * 110
    late = dataclasses.replace(f405, compute_ms=99.0 - f405.link_ms - f405.overhead_ms - 1.0)
    assert late.total_ms < late.budget_ms and "7.6 ms for late replies" in late.problems()[0]


def test_plan_keeps_what_the_gateway_keeps_for_replying() -> None:
    """The gateway's front end stops waiting for boards a tenth of the deadline early even on
    an idle loop: a plan with no headroom must not promise boards the whole deadline."""
    assert kept_share(parse_fleet(FLEET | {"headroom": 0.0})) == pytest.approx(0.1)
    assert kept_share(parse_fleet(FLEET | {"headroom": 0.3})) == pytest.approx(0.3)


def test_board_daemon_is_timed_on_the_real_server() -> None:
    """The calibration's first part drives boards.server.BoardServer itself (INFER datagrams,
    or COBS frames of a serial link, in; one RESULT out per request; it raises otherwise)."""
    from experiments.plan_overhead import board_daemon_ms

    assert 0.0 < board_daemon_ms(784, 2, 10, requests=20) < 50.0
    assert 0.0 < board_daemon_ms(784, 2, 10, requests=20, framing="stream") < 50.0
