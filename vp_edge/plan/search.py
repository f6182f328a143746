"""The search: for each board class the largest variants that fit its flash, RAM and deadline.

Candidates are the grid (r, alpha, F) below, costed by the fitted models (vp_edge.plan.costs) in
microseconds each. Each board gets a resolution no other board runs wherever a feasible one is
left (the method's diversity), the candidate with the most MACs at that resolution; the classes
with the fewest feasible resolutions choose first, so the boards with the most choice leave the
small resolutions to the boards that can run nothing else. Every member stays within the
paper's cost bounds against the MobileNetV2 baseline at the family's largest resolution unless
the bounds are lifted.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridge.firmware.targets import get_target
from vp_edge.family import PAPER_MACS_RATIO, PAPER_PARAMS_RATIO
from vp_edge.gateway.lag import reserve_for
from vp_edge.plan.costs import (
    CORE_OF_TARGET,
    CPI,
    HOST_FACTORS,
    CostModel,
    CostModelError,
    host_factor,
)
from vp_edge.plan.fleet import BoardClass, Fleet
from vp_edge.plan.link import link_cost
from vp_edge.plan.shapes import Shape, baseline_shape, counts

RESOLUTIONS = (16, 20, 24, 28, 32, 36, 40, 48, 56, 64)
ALPHAS = (0.35, 0.4, 0.5, 0.75, 1.0)
HEADS = (128, 192, 256, 320, 384)
#: the largest r as a multiple of the raw input's side (the paper spans 0.43x to 1.43x)
MAX_UPSCALE = 1.5


@dataclass(frozen=True)
class Estimate:
    """One candidate on one board class, every figure predicted."""

    shape: Shape
    params: int
    macs: int
    model_bytes: int
    model_limit: int
    arena: int
    arena_limit: int
    compute_ms: float
    link_ms: float
    deadline_ms: float
    link_label: str = ""  # "115200 baud", "ethernet"
    headroom: float = 0.0  # share of the deadline kept free for what the models miss
    overhead_ms: float = 0.0  # measured per-request overhead of the board's link (plan.overhead)
    #: how much later than its p50 a reply may come (serial boards' measured p95 - p50): kept
    #: free before the gateway's cut-off with the total
    spread_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        return self.compute_ms + self.link_ms + self.overhead_ms

    @property
    def margin_ms(self) -> float:
        return self.deadline_ms - self.total_ms

    @property
    def budget_ms(self) -> float:
        return self.deadline_ms * (1.0 - self.headroom)

    def problems(self) -> list[str]:
        out = []
        if self.model_bytes > self.model_limit:
            out.append(f"model {self.model_bytes:,} B > {self.model_limit:,} B of flash")
        if self.arena > self.arena_limit:
            out.append(f"arena {self.arena:,} B > {self.arena_limit:,} B of RAM")
        if self.total_ms + self.spread_ms > self.budget_ms:
            kept = f", {self.headroom:.0%} kept free" if self.headroom else ""
            kept += f", {self.spread_ms:.1f} ms for late replies" if self.spread_ms else ""
            out.append(
                f"needs {self.total_ms:.0f} ms ({self.compute_ms:.1f} ms compute + "
                f"{self.link_ms:.1f} ms over {self.link_label}"
                + (f" + {self.overhead_ms:.1f} ms per request" if self.overhead_ms else "")
                + "); deadline "
                f"{self.deadline_ms:g} ms{kept}"
            )
        return out


def _artefact(bc: BoardClass) -> tuple[str, str, int]:
    """(bytes quantity, arena quantity, flash limit) of what this kind of board stores."""
    p = bc.profile
    if bc.kind == "qemu":
        return "vpw_arm_bytes", "arena_engine", get_target(p.firmware_target or "").slot_size
    if bc.kind == "mcu":
        return "tflite_bytes", "arena_tflm", p.model_limit
    if bc.kind == "pynq":
        return "vpw_generic_bytes", "arena_engine", p.model_limit
    return "tflite_bytes", "arena_engine", p.model_limit


def compute_ms(bc: BoardClass, s: Shape, costs: CostModel) -> float:
    """Predicted milliseconds of one inference on a board of this class."""
    p = bc.profile
    if p.firmware_target:
        core = CORE_OF_TARGET.get(p.firmware_target, "cortex-m4")
        return costs.predict(s, f"{core}_instructions") * CPI / p.clock_hz * 1e3
    if p.name not in HOST_FACTORS:
        raise CostModelError(
            f"no compute model for profile {p.name!r}: measured for "
            f"{', '.join(HOST_FACTORS)} and firmware targets"
        )
    quantity, factor = HOST_FACTORS[p.name]
    return costs.predict(s, quantity) * factor


def overhead_ms(bc: BoardClass, fleet: Fleet, costs: CostModel) -> tuple[float, float]:
    """(the measured per-request overhead of a board in this fleet, its spread). On a network
    link: its board part at the profile's CPU factor and the gateway's part for the fleet's
    network boards (their replies come back together and share the gateway's process; a
    serial board's comes tens of ms later); on a serial line: the serial term for the fleet's
    serial boards, and the spread of their replies. 0 where costs.json has no measurement."""
    boards = sum(c.count for c in fleet.classes if c.serial == bc.serial)
    if bc.serial:
        s = costs.serial
        return (0.0, 0.0) if s is None else (s.ms(boards), s.spread_ms)
    if costs.udp is None:
        return 0.0, 0.0
    return costs.udp.ms(bc.kind, host_factor(bc.profile.name), boards), 0.0


def kept_share(fleet: Fleet) -> float:
    """The share of the deadline a board's reply must leave free: the fleet's headroom, and at
    least what the gateway keeps for replying (its front end stops waiting for boards that
    much before the deadline even on an idle loop; vp_edge.gateway.lag)."""
    return max(fleet.headroom, reserve_for(fleet.deadline_ms / 1e3, 0.0) * 1e3 / fleet.deadline_ms)


def estimate(bc: BoardClass, s: Shape, fleet: Fleet, costs: CostModel) -> Estimate:
    c = counts(s)
    bytes_q, arena_q, limit = _artefact(bc)
    in_bytes = s.input_hw[0] * s.input_hw[1] * s.channels
    medium = "uart" if bc.serial else bc.profile.link
    link = link_cost(in_bytes, fleet.k, medium, bc.baud)
    label = f"{bc.baud} baud" if medium == "uart" else medium
    return Estimate(
        s,
        c.keras_params,
        c.macs,
        int(costs.predict(s, bytes_q)),
        limit,
        int(costs.predict(s, arena_q)),
        bc.profile.arena_limit,
        compute_ms(bc, s, costs),
        link.seconds * 1e3,
        fleet.deadline_ms,
        label,
        kept_share(fleet),
        *overhead_ms(bc, fleet, costs),
    )


def grid(like: Shape, max_resolution: int) -> list[Shape]:
    return [
        Shape(
            r,
            a,
            f,
            like.channels,
            like.num_classes,
            like.stem_stride,
            like.output_stride,
            input_hw=like.input_hw,
        )
        for r in RESOLUTIONS
        if r <= max_resolution
        for a in ALPHAS
        for f in HEADS
    ]


def within_bounds(e: Estimate, base_params: int, base_macs: int) -> bool:
    return base_params / e.params >= PAPER_PARAMS_RATIO and base_macs / e.macs >= PAPER_MACS_RATIO


@dataclass
class ClassPlan:
    board_class: BoardClass
    chosen: list[Estimate]
    smallest: Estimate  # what the cheapest candidate would cost (the reason when none fits)


def _pick(feasible: list[Estimate], n: int, taken: set[int]) -> list[Estimate]:
    """n candidates on distinct resolutions wherever the board has a feasible one left.

    Each resolution stands for its largest feasible candidate. Resolutions no earlier class
    took come first, whatever they cost in MACs (the method's diversity: members that see the
    input at different scales err differently, and a near-copy adds little to the vote), the
    largest first; then those already taken. A class with more boards than feasible
    resolutions repeats them, the largest first, each time with the next largest (alpha, F)
    at that resolution: a second board running the very same variant would only cast the
    same vote twice.
    """
    at: dict[int, list[Estimate]] = {}
    for e in sorted(feasible, key=lambda e: -e.macs):
        at.setdefault(e.shape.resolution, []).append(e)
    ranked = sorted(at, key=lambda r: -at[r][0].macs)
    order = [r for r in ranked if r not in taken] + [r for r in ranked if r in taken]
    out: list[Estimate] = []
    for i in range(n if order else 0):
        r = order[i % len(order)]
        k = i // len(order)  # the k-th repeat of r takes its k-th largest candidate
        out.append(at[r][min(k, len(at[r]) - 1)])
    return out


def search(
    fleet: Fleet,
    like: Shape,
    costs: CostModel,
    bounds: bool = True,
    max_resolution: int | None = None,
) -> list[ClassPlan]:
    """The plan, class by class, in the fleet's order."""
    cands = grid(like, max_resolution or int(MAX_UPSCALE * max(like.input_hw)))
    table = {bc.name: [estimate(bc, s, fleet, costs) for s in cands] for bc in fleet.classes}
    base_r = max(s.resolution for s in cands)
    for _ in range(4):  # the baseline follows the family's largest resolution
        base = counts(baseline_shape(like, base_r))
        plans = _plan_once(
            fleet, table, base.keras_params if bounds else 0, base.macs if bounds else 0
        )
        used = [e.shape.resolution for p in plans for e in p.chosen]
        new_r = max(used, default=base_r)
        if new_r == base_r or not bounds:
            return plans
        base_r = new_r
    return plans


def _plan_once(
    fleet: Fleet, table: dict[str, list[Estimate]], base_params: int, base_macs: int
) -> list[ClassPlan]:
    """Classes with the fewest feasible resolutions choose first (then the most capable), so a
    board with many choices never takes the one resolution a more constrained board could
    have run on its own."""
    ok = {
        bc.name: [
            e
            for e in table[bc.name]
            if not e.problems() and (base_params == 0 or within_bounds(e, base_params, base_macs))
        ]
        for bc in fleet.classes
    }

    def choice(bc: BoardClass) -> tuple[int, int]:
        rows = ok[bc.name]
        return len({e.shape.resolution for e in rows}), -max((e.macs for e in rows), default=0)

    taken: set[int] = set()
    plans: dict[str, ClassPlan] = {}
    for bc in sorted(fleet.classes, key=choice):
        chosen = _pick(ok[bc.name], bc.count, taken)
        taken.update(e.shape.resolution for e in chosen)
        smallest = min(table[bc.name], key=lambda e: (e.total_ms, e.model_bytes))
        plans[bc.name] = ClassPlan(bc, chosen, smallest)
    return [plans[bc.name] for bc in fleet.classes]
