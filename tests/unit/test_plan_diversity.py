"""The search's diversity rule: distinct resolutions wherever a board has a feasible one left,
the most constrained classes choosing first (vp_edge.plan.search)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from vp_edge.plan.search import Estimate, _pick, _plan_once
from vp_edge.plan.shapes import Shape


def est(r: int, macs: int, alpha: float = 0.4) -> Estimate:
    """A feasible candidate at resolution r (model, arena and time well within their limits)."""
    return Estimate(Shape(r, alpha, 256), 1000, macs, 10, 100, 10, 100, 1.0, 1.0, 100.0)


def resolutions(chosen: list[Estimate]) -> list[int]:
    return [e.shape.resolution for e in chosen]


def test_an_untaken_resolution_wins_however_few_macs_it_has() -> None:
    feasible = [est(40, 4_300_000), est(36, 4_150_000), est(32, 2_180_000), est(16, 400_000)]
    # r 40 and 36 taken by an earlier class: the next board takes r 32 at half the MACs
    assert resolutions(_pick(feasible, 1, {40, 36})) == [32]
    # with r 32 taken too, r 16 (a tenth of the MACs) still beats a copy
    assert resolutions(_pick(feasible, 1, {40, 36, 32})) == [16]


def test_each_resolution_stands_for_its_largest_candidate() -> None:
    feasible = [est(20, 900_000, 0.35), est(20, 1_200_000, 0.5), est(16, 500_000)]
    (e,) = _pick(feasible, 1, set())
    assert (e.shape.resolution, e.macs) == (20, 1_200_000)


def test_a_class_repeats_only_when_no_distinct_resolution_is_left() -> None:
    feasible = [est(20, 900_000), est(16, 500_000)]
    # two boards, one resolution untaken: it first, then the taken one (still distinct)
    assert resolutions(_pick(feasible, 2, {20})) == [16, 20]
    # three boards, two resolutions: one repeat, the largest
    assert resolutions(_pick(feasible, 3, set())) == [20, 16, 20]


def test_a_repeated_resolution_takes_the_next_variant_not_a_copy() -> None:
    """Two boards on one variant would cast the same vote twice: the second board at a
    resolution runs its next largest (alpha, F), a copy only when there is no other."""
    feasible = [est(16, 403_472, 0.35), est(16, 395_664, 0.35), est(16, 380_000, 0.35)]
    assert [e.macs for e in _pick(feasible, 2, set())] == [403_472, 395_664]
    assert [e.macs for e in _pick(feasible[:1], 2, set())] == [403_472, 403_472]
    assert _pick([], 2, set()) == []


def board_class(name: str, count: int) -> Any:
    return SimpleNamespace(name=name, count=count)


def plan_resolutions(classes: list[Any], table: dict[str, list[Estimate]]) -> dict:
    fleet: Any = SimpleNamespace(classes=classes)
    return {p.board_class.name: resolutions(p.chosen) for p in _plan_once(fleet, table, 0, 0)}


def test_the_most_constrained_class_chooses_first() -> None:
    table = {
        "pi": [est(r, r * r * 2500) for r in (16, 20, 24, 28, 32, 36, 40)],
        "mcu": [est(16, 400_000), est(20, 620_000)],
    }
    weak = board_class("mcu", 1)  # r 16 or 20 only
    # six Linux boards, listed first and the most capable, could take r 20 too: the
    # microcontroller chooses first and runs the largest it can, every board stays distinct
    plans = plan_resolutions([board_class("pi", 6), weak], table)
    assert plans == {"pi": [40, 36, 32, 28, 24, 16], "mcu": [20]}
    # more boards than resolutions: the class's own boards stay distinct (the seventh shares
    # the microcontroller's r 20), then the largest is repeated
    plans = plan_resolutions([board_class("pi", 8), weak], table)
    assert plans == {"pi": [40, 36, 32, 28, 24, 16, 20, 40], "mcu": [20]}
