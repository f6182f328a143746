"""``vp-edge plan``: size a variant family for a fleet from measured costs.

``make_plan`` reads a fleet (vp_edge.plan.fleet), costs every candidate on every board class
(vp_edge.plan.costs, vp_edge.plan.link), picks the largest that fit (vp_edge.plan.search) and
returns the family (variants named after the boards they serve), the deployment that assigns
them, and one row of predictions per board. ``write_plan`` writes ``family.json``,
``deploy.toml`` and ``plan.json``; then ``vp-edge train --family family.json`` and the usual flow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from vp_edge.family import Family, Variant, save_family
from vp_edge.plan.costs import CostModel, load_costs
from vp_edge.plan.fleet import Fleet, PlanError
from vp_edge.plan.search import ClassPlan, Estimate, search
from vp_edge.plan.shapes import Shape

__all__ = ["Plan", "PlanError", "make_plan", "write_plan"]


@dataclass(frozen=True)
class BoardRow:
    board: str
    board_class: str
    kind: str
    profile: str
    link: str
    variant: str
    estimate: Estimate

    def to_dict(self) -> dict:
        e = self.estimate
        return {
            "board": self.board,
            "kind": self.kind,
            "profile": self.profile,
            "link": self.link,
            "variant": self.variant,
            "resolution": e.shape.resolution,
            "alpha": e.shape.alpha,
            "head": e.shape.head,
            "params": e.params,
            "macs": e.macs,
            "model_bytes": e.model_bytes,
            "model_limit": e.model_limit,
            "arena": e.arena,
            "arena_limit": e.arena_limit,
            "compute_ms": round(e.compute_ms, 2),
            "link_ms": round(e.link_ms, 2),
            "overhead_ms": round(e.overhead_ms, 2),
            "spread_ms": round(e.spread_ms, 2),
            "total_ms": round(e.total_ms, 2),
            "deadline_ms": e.deadline_ms,
            "margin_ms": round(e.margin_ms, 2),
        }


@dataclass(frozen=True)
class Plan:
    fleet: Fleet
    family: Family
    rows: tuple[BoardRow, ...]
    cost_source: dict
    fit_errors: dict[str, float]  # quantity -> the fit's largest relative error on its rows
    stale: bool  # instruction counts measured on other engine sources
    #: quantity -> the largest error on a row left out of its fit (None: too few rows)
    held_out_errors: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "family": self.family.to_dict(),
            "boards": [r.to_dict() for r in self.rows],
            "deadline_ms": self.fleet.deadline_ms,
            "k": self.fleet.k,
            "cost_measurements": self.cost_source,
            "cost_fit_max_error": self.fit_errors,
            "cost_fit_held_out_error": self.held_out_errors,
        }


def _variant_name(e: Estimate, board_class: str) -> str:
    s = e.shape
    return f"{board_class}_r{s.resolution}_a{s.alpha:g}_f{s.head}".replace(".", "")


def _infeasible(plans: list[ClassPlan]) -> list[str]:
    out = []
    for p in plans:
        if p.chosen:
            continue
        why = "; ".join(p.smallest.problems())
        for name in p.board_class.board_names():
            out.append(
                f"{name}: even the smallest candidate (r {p.smallest.shape.resolution}, "
                f"alpha {p.smallest.shape.alpha:g}, F {p.smallest.shape.head}) fails: {why}"
            )
    return out


def make_plan(
    fleet: Fleet,
    name: str = "planned",
    class_names: tuple[str, ...] = (),
    costs: CostModel | None = None,
    bounds: bool = True,
) -> Plan:
    """The plan for ``fleet``, or PlanError with one line per board that nothing fits."""
    if fleet.input_shape is None or fleet.num_classes is None:
        raise PlanError(
            "the fleet needs input_shape and num_classes (in the file, or "
            "--input-shape and --classes)"
        )
    costs = costs or load_costs()
    h, w, c = fleet.input_shape
    like = Shape(0, 0.0, 0, c, fleet.num_classes, 2, 16 if max(h, w) < 64 else 32, input_hw=(h, w))
    plans = search(fleet, like, costs, bounds=bounds)
    bad = _infeasible(plans)
    feasible = sum(p.board_class.count for p in plans if p.chosen)
    if bad or feasible < fleet.min_boards:
        lines = bad + (
            [
                f"only {feasible} boards can answer within {fleet.deadline_ms:g} ms; "
                f"min_boards is {fleet.min_boards}"
            ]
            if feasible < fleet.min_boards
            else []
        )
        raise PlanError("no plan fits this fleet:\n" + "\n".join(lines))
    variants: dict[str, Variant] = {}
    rows = []
    for p in plans:
        bc = p.board_class
        for board, link, e in zip(bc.board_names(), bc.links, p.chosen, strict=True):
            vname = _variant_name(e, bc.name)
            variants.setdefault(
                vname, Variant(vname, e.shape.resolution, e.shape.alpha, e.shape.head)
            )
            rows.append(BoardRow(board, bc.name, bc.kind, bc.profile.name, link, vname, e))
    family = Family(
        name=name,
        input_shape=fleet.input_shape,
        num_classes=fleet.num_classes,
        variants=tuple(variants.values()),
        output_stride=like.output_stride,
        class_names=class_names,
    )
    errors = {q: round(f.max_rel_error, 4) for q, f in costs.fits.items()}
    held_out = {
        q: None if f.held_out_error is None else round(f.held_out_error, 4)
        for q, f in costs.fits.items()
    }
    return Plan(fleet, family, tuple(rows), costs.source, errors, costs.stale, held_out)


def deployment_toml(plan: Plan, run: str = "runs/planned") -> str:
    """A deployment for the planned family (emulated links unless the fleet named others)."""
    lines = [
        f'run = "{run}"',
        'key_file = "deploy.key"',
        f"k = {plan.fleet.k}",
        f"deadline_ms = {plan.fleet.deadline_ms:g}",
        "",
    ]
    for i, r in enumerate(plan.rows, 1):
        lines += [
            "[[boards]]",
            f"id = {i}",
            f'name = "{r.board}"',
            f'kind = "{r.kind}"',
            f'link = "{r.link}"',
            f'variant = "{r.variant}"',
            f'profile = "{r.profile}"',
            "",
        ]
    return "\n".join(lines)


def write_plan(plan: Plan, out: Path, run: str = "runs/planned") -> dict[str, Path]:
    """``family.json``, ``deploy.toml`` and the predictions ``plan.json`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "family": out / "family.json",
        "deployment": out / "deploy.toml",
        "plan": out / "plan.json",
    }
    save_family(plan.family, paths["family"])
    paths["deployment"].write_text(deployment_toml(plan, run))
    paths["plan"].write_text(json.dumps(plan.to_dict(), indent=1) + "\n")
    return paths
