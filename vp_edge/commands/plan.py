"""``vp-edge plan``: fit a variant family to a fleet (vp_edge.plan)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vp_edge.commands._common import add_json, emit, float_range, int_range


def _shape(text: str) -> tuple[int, int, int]:
    try:
        h, w, c = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected H,W,C such as 28,28,1, got {text!r}") from None
    if min(h, w, c) < 1 or max(h, w) > 1024 or c > 4:
        raise argparse.ArgumentTypeError(f"H and W in [1, 1024], C in [1, 4], got {text!r}")
    return h, w, c


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan",
        help="size a variant family for a fleet: each board the largest variant that fits",
        description="Read a fleet (or deployment) file, cost every candidate (r, alpha, F) on "
        "every board class from measured cost models (bytes, arena, compute, link), and write "
        "a family file and a deployment that give each board the largest variant its flash, "
        "RAM, link and the deadline allow. Then: vp-edge train --family OUT/family.json. "
        "A fleet that nothing fits is refused with one line per board (exit 2).",
    )
    p.add_argument("fleet", type=Path, help="fleet or deployment TOML (docs/planning.md)")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("plan"),
        help="folder for family.json and deploy.toml (default: plan)",
    )
    p.add_argument("--input-shape", type=_shape, help="H,W,C of the raw input (else the file's)")
    p.add_argument("--classes", type=int_range(2, 1000), help="number of classes")
    p.add_argument("--deadline-ms", type=int_range(1, 600_000), help="override the file's")
    p.add_argument("--min-boards", type=int_range(1, 64), help="override the file's")
    p.add_argument(
        "--headroom",
        type=float_range(0, 0.9),
        help="share of the deadline the plan keeps free (else the file's, or 0.1)",
    )
    p.add_argument("--run", default="runs/planned", help="the run the deployment names")
    p.add_argument(
        "--no-paper-bounds",
        action="store_true",
        help="allow members above the paper's cost bounds against the baseline",
    )
    add_json(p)
    p.set_defaults(func=_plan)


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= 10 * scale:
            return f"{n / scale:.0f} {unit}"
    return f"{n} B"


def _held_out(e: float | None) -> str:
    return "" if e is None else f" / {e:.0%}"


def _table(plan: object) -> str:
    from vp_edge.plan import Plan

    assert isinstance(plan, Plan)
    head = (
        f"{'board':10} {'variant':22} {'params':>8} {'MACs':>10} {'model':>7} "
        f"{'/ flash':>8} {'arena':>6} {'/ RAM':>7} {'compute':>8} {'link':>8} "
        f"{'per req':>8} {'total':>8} {'margin':>8}"
    )
    lines = [head]
    for r in plan.rows:
        e = r.estimate
        lines.append(
            f"{r.board:10} {r.variant:22} {e.params:>8,} {e.macs:>10,} {_size(e.model_bytes):>7} "
            f"{_size(e.model_limit):>8} {_size(e.arena):>6} {_size(e.arena_limit):>7} "
            f"{e.compute_ms:>5.1f} ms {e.link_ms:>5.1f} ms {e.overhead_ms:>5.1f} ms "
            f"{e.total_ms:>5.1f} ms "
            f"{e.margin_ms:>5.1f} ms"
        )
    src = plan.cost_source
    lines.append(
        f"deadline {plan.fleet.deadline_ms:g} ms; costs measured {src.get('date')} on "
        f"{src.get('machine')} (python -m experiments.plan_calibrate); largest fit "
        "errors (on its rows / on a row left out): "
        + ", ".join(
            f"{q} {e:.0%}" + _held_out(plan.held_out_errors.get(q))
            for q, e in plan.fit_errors.items()
            if q.endswith(("instructions", "_ms"))
        )
    )
    lines.append(_overhead_line(src.get("udp_overhead")))
    lines.append(_serial_line(src.get("serial_overhead")))
    if plan.stale:
        lines.append(
            "warning: the instruction counts were measured on other engine kernels; "
            "rerun python -m experiments.plan_calibrate --resume"
        )
    return "\n".join(lines)


def _load(entry: dict) -> str:
    loads = [x for f in entry.get("fleets", []) for x in f.get("load_1min", [])]
    return f", load {min(loads):g}-{max(loads):g}" if loads else ""


def _serial_line(serial: dict | None) -> str:
    """Where the serial boards' per-request column and their late-reply margin come from."""
    if not serial:
        return "per request (serial boards): not measured; 0 assumed, no margin for late replies"
    return (
        f"per request (serial boards): measured {serial.get('date')}{_load(serial)} (python -m "
        f"experiments.plan_overhead --only serial): {serial['base_ms']:.1f} ms + "
        f"{serial['per_board_ms']:.1f} ms per further serial board; "
        f"{serial['spread_ms']:.1f} ms kept for late replies (p95 - p50)"
    )


def _overhead_line(udp: dict | None) -> str:
    """Where the UDP boards' per-request column comes from (vp_edge/plan/overhead.py)."""
    if not udp:
        return "per request: not measured (python -m experiments.plan_overhead); 0 assumed"
    return (
        f"per request (UDP boards): measured {udp.get('date')}{_load(udp)} (python -m "
        f"experiments.plan_overhead): the board daemon's {udp['board_ms']:.2f} ms x the "
        "profile's CPU factor + the gateway's share for the fleet's network boards"
    )


def _plan(args: argparse.Namespace) -> int:
    from vp_edge.plan_run import plan_fleet

    plan, result = plan_fleet(
        args.fleet,
        args.out,
        args.run,
        bounds=not args.no_paper_bounds,
        input_shape=args.input_shape,
        num_classes=args.classes,
        deadline_ms=args.deadline_ms,
        min_boards=args.min_boards,
        headroom=args.headroom,
    )
    table = _table(plan) + "\nwrote " + ", ".join(result["written"].values())
    emit(args, result, table)
    return 0
