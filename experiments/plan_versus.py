"""A planned family against a uniform preset on the same fleet, live: accuracy and deadlines.

Both runs are served on emulated boards of the plan's fleet through the gateway at the plan's
deadline (``experiments.plan_live``: every reply held back to its board's measured compute, the
serial links throttled to their baud). The planned family runs as ``vp-edge plan`` assigned it;
the preset's members go round the boards in the deployment's order (board i gets member
i mod n), as a user with a uniform family would deploy it. Both should be trained with the same
budget and seed, e.g.::

    vp-edge plan docs/fleets/mixed.toml --out plan
    vp-edge train --family plan/family.json --out runs/planned --epochs 1 --train-limit 6000 \\
        --no-baseline --seed 0 && vp-edge convert --run runs/planned
    vp-edge train --family fashion-a035 --out runs/a035 ... (the same flags) && vp-edge convert ...
    python -m experiments.plan_versus plan runs/planned runs/a035 [--images 200] [--rate 5] \
        [--measured CHECK.json]  # plan_check --json: the planned boards' counts, reused

Per family: the live ensemble's top-1 accuracy, the share of answers given by the deadline, the
share of answers every board voted in within the deadline, the share of board replies within it,
the answers' p50, and each board's share.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from experiments.plan_live import board_holds, emulated_deployment, p50_ms, run_live


def uniform_assignment(deploy: Path, run: Path) -> dict[str, str]:
    """board -> member of ``run``'s family, round the boards in order."""
    import tomllib

    from converters.rundir import RunDir
    from vp_edge.family import load_family

    members = [v.name for v in load_family(RunDir(run).family).variants]
    boards = tomllib.loads(deploy.read_text())["boards"]
    return {b["name"]: members[i % len(members)] for i, b in enumerate(boards)}


def serve(
    plan: Path, run: Path, uniform: bool, images: int, rate: float, known: dict | None = None
) -> dict:
    """One family live on the plan's fleet at the plan's deadline (``known``: board -> measured
    compute of the same shapes, see ``board_holds``)."""
    deploy = plan / "deploy.toml"
    variants = uniform_assignment(deploy, run) if uniform else None
    with tempfile.TemporaryDirectory(prefix="vp-plan-versus-") as tmp:
        dep, profiles = emulated_deployment(deploy, run, Path(tmp), variants=variants)
        holds = board_holds(dep, profiles, known)
        res = run_live(dep, holds, images, rate)
    n = res.images
    replies = sum(res.board_in_time.values())
    return {
        "run": str(run),
        "deadline_ms": dep.deadline_s * 1e3,
        "images": n,
        "accuracy": res.correct / n,
        "hits": res.hits,
        "answered_by_deadline": sum(t <= dep.deadline_s for t in res.latency_s) / n,
        "complete_in_time": res.complete / n,
        "replies_in_time": replies / (n * len(dep.boards)),
        "answer_p50_ms": p50_ms(res.latency_s),
        "boards": {
            b.name: {
                "variant": b.variant,
                "compute_ms": holds[b.name]["compute_ms"],
                "in_time": res.board_in_time.get(b.name, 0) / n,
                "p50_ms": p50_ms(res.board_latency_s.get(b.name, [])),
            }
            for b in dep.boards
        },
    }


def table(rows: dict[str, dict]) -> str:
    """The side-by-side table (markdown)."""
    names = list(rows)
    out = [
        "| | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        "| live ensemble accuracy | " + " | ".join(f"{r['accuracy']:.1%}" for r in rows.values()),
        "| answers by the deadline | "
        + " | ".join(f"{r.get('answered_by_deadline', float('nan')):.1%}" for r in rows.values()),
        "| answers with every board in time | "
        + " | ".join(f"{r['complete_in_time']:.1%}" for r in rows.values()),
        "| board replies in time | "
        + " | ".join(f"{r['replies_in_time']:.1%}" for r in rows.values()),
        "| answer p50 | " + " | ".join(f"{r['answer_p50_ms']:.1f} ms" for r in rows.values()),
    ]
    for board in next(iter(rows.values()))["boards"]:
        cells = [
            f"{b['variant']}: {b['compute_ms']:.1f} ms compute, {b['in_time']:.0%} in time"
            for b in (r["boards"][board] for r in rows.values())
        ]
        out.append(f"| {board} | " + " | ".join(cells) + " |")
    return "\n".join(line if line.endswith("|") else line + " |" for line in out)


def paired(a: list[int], b: list[int]) -> str:
    """The two families on the same images: how many only one got right, and the exact
    two-sided sign test of those (McNemar's), so an accuracy gap can be read against chance."""
    from math import comb

    only_a = sum(x > y for x, y in zip(a, b, strict=True))
    only_b = sum(y > x for x, y in zip(a, b, strict=True))
    n, low = only_a + only_b, min(only_a, only_b)
    p = min(1.0, 2 * sum(comb(n, i) for i in range(low + 1)) / 2**n) if n else 1.0
    return (
        f"same {len(a)} images: only planned right on {only_a}, only uniform right on "
        f"{only_b} (exact sign test p = {p:.2f})"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("plan", type=Path, help="the folder 'vp-edge plan --out' wrote")
    ap.add_argument("planned", type=Path, help="run of the planned family (converted)")
    ap.add_argument("uniform", type=Path, help="run of the uniform preset (converted)")
    ap.add_argument("--images", type=int, default=200, help="test images served (default 200)")
    ap.add_argument("--rate", type=float, default=5.0, help="requests a second (default 5)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument(
        "--measured",
        type=Path,
        help="plan_check --json rows: the planned boards' compute, not counted again",
    )
    ap.add_argument("--only", choices=("planned", "uniform"), help="serve one family only")
    ap.add_argument("--add", type=Path, nargs="*", help="--json files of earlier --only runs")
    args = ap.parse_args(argv)
    known = (
        {r["board"]: r for r in json.loads(args.measured.read_text())} if args.measured else None
    )
    rows = {}
    if args.only in (None, "planned"):
        rows["planned"] = serve(args.plan, args.planned, False, args.images, args.rate, known)
    if args.only in (None, "uniform"):
        rows["uniform"] = serve(args.plan, args.uniform, True, args.images, args.rate)
    for path in args.add or []:  # the other half, measured by an earlier --only
        rows.update(json.loads(path.read_text()))
    rows = {k: rows[k] for k in ("planned", "uniform") if k in rows}
    print(table(rows))
    if len(rows) == 2:
        print(paired(rows["planned"]["hits"], rows["uniform"]["hits"]))
    print(
        f"{args.images} test images at {args.rate:g}/s, one in flight, deadline "
        f"{next(iter(rows.values()))['deadline_ms']:g} ms; emulated boards held to their "
        "measured compute"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
