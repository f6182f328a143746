"""``vp-edge rollout``: move a deployment's boards to another run while the gateway serves."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vp_edge.commands._common import NON_NEGATIVE, POSITIVE, SECONDS, add_json, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rollout",
        help="update a deployment's boards to another converted run, a few at a time, with "
        "canary and revert",
        description="For each board, --max-unavailable at a time: register the new model's "
        "card (the running gateway re-learns the board from its HELLO), flash the new model "
        "into the inactive slot (self-test and readback verified), check its HELLO, then send "
        "--canary requests whose RESULTs must equal the new model's answers computed here on "
        "the board's runtime. A board that fails goes back to the deployment's model and the "
        "rollout halts (exit 4) unless --continue-on-failure. Progress is kept in --state: "
        "run the same command again to resume. Update 'run' in the deployment file once done.",
    )
    p.add_argument("--deployment", type=Path, required=True, help="deployment TOML file")
    p.add_argument(
        "--to",
        type=Path,
        required=True,
        metavar="RUN",
        help="the converted run to move to (its models/ and cards)",
    )
    p.add_argument(
        "--max-unavailable", type=POSITIVE, default=1, help="boards updated at once (default 1)"
    )
    p.add_argument(
        "--canary",
        type=NON_NEGATIVE,
        default=8,
        help="requests checked on each updated board (default 8)",
    )
    p.add_argument(
        "--continue-on-failure",
        action="store_true",
        help="go on with the next boards after a failed one",
    )
    p.add_argument(
        "--state", type=Path, default=None, help="progress file (default STATE_DIR/rollout.json)"
    )
    p.add_argument("--timeout", type=SECONDS, default=2.0, help="seconds per flash message")
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vp_edge.deployment import load_deployment
    from vp_edge.rollout import RolloutOptions, check_rollout, plan, rollout, state_file_for

    dep = load_deployment(args.deployment)
    if args.dry_run:
        steps = [s.to_dict() for s in plan(dep, args.to)]
        emit(args, {"to": str(args.to), "steps": steps, "dry_run": True}, _plan_table(steps))
        return 0
    opts = RolloutOptions(
        args.max_unavailable,
        args.canary,
        args.continue_on_failure,
        state_file_for(dep, args.state),
        args.timeout,
    )

    def show(what: str, info: dict) -> None:
        if args.json != "-":
            extra = f": {info['error']}" if info.get("error") else ""
            print(f"rollout: {info['board']} {what}{extra}", file=sys.stderr, flush=True)

    report = rollout(dep, args.to, opts, show).to_dict()
    emit(args, report, _table(report))
    check_rollout(report, opts.state_file)
    return 0


def _plan_table(steps: list[dict]) -> str:
    return "\n".join(
        f"{s['board']:<10} {s['variant']:<10} {s['artefact']} ({s['sha256'][:16]}...)"
        for s in steps
    )


def _table(r: dict) -> str:
    lines = [f"rollout to {r['to']} in {r['seconds']:.1f} s" + (" (halted)" if r["halted"] else "")]
    for s in r["steps"]:
        o = r["outcomes"].get(s["board"], {"status": "pending"})
        lines.append(f"  {s['board']:<10} {o['status']:<9} {o.get('error', '')}")
    return "\n".join(lines)
