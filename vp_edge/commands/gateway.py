"""``vp-edge gateway``: live voting over a deployment's boards (data set, image folder or UDP)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vp_edge.commands._common import POSITIVE, add_json, emit, host_port, int_range


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gateway",
        help="fan inputs out to the boards, collect top-k RESULTs by a deadline, vote",
        description="For each input: quantize per variant, send INFER to every healthy board, "
        "collect RESULTs until all arrived or the deadline passed, vote, answer (winner, fused "
        "scores, voters, missing boards, degraded). Inputs: a split of the run's data set, a "
        "folder of images, or clients over UDP (JSON, see 'vp-edge classify').",
    )
    p.add_argument("--deployment", type=Path, required=True, help="deployment TOML file")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--split", choices=("test", "val", "train"), help="a split of the run's data")
    src.add_argument("--images", type=Path, help="a folder of PNG/JPEG images")
    src.add_argument(
        "--listen",
        help="serve clients on udp://HOST:PORT, or take a share of "
        "the requests on mqtt://BROKER:1883/DEPLOYMENT, until Ctrl-C",
    )
    p.add_argument("--limit", type=POSITIVE, default=None, help="first N inputs only")
    p.add_argument(
        "--inflight", type=int_range(1, 1024), default=1, help="requests in flight (default 1)"
    )
    p.add_argument(
        "--max-inflight",
        type=int_range(1, 4096),
        default=16,
        help="--listen: requests served at once (default 16)",
    )
    p.add_argument(
        "--max-queue",
        type=int_range(0, 65536),
        default=64,
        help="--listen: requests waiting beyond those; more get 'busy' (default 64)",
    )
    p.add_argument(
        "--group",
        default="gateways",
        help="--listen mqtt: shared-subscription group (default gateways)",
    )
    p.add_argument(
        "--boards",
        default=None,
        help="--listen: this gateway's boards (comma-separated names; default all). "
        "Gateways sharing a broker must own disjoint sets",
    )
    p.add_argument("--name", default="", help="this gateway's name (state folder, metrics)")
    p.add_argument(
        "--metrics",
        type=host_port,
        default=None,
        metavar="HOST:PORT",
        help="--listen: serve Prometheus /metrics and the status page / here",
    )
    p.add_argument("--answers", type=Path, default=None, help="write every answer as JSON lines")
    p.add_argument("--no-progress", action="store_true", help="no progress line")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vp_edge.deployment import load_deployment
    from vp_edge.gateway.batch import exit_policy, run_gateway_batch
    from vp_edge.gateway.stats import gateway_table

    dep = load_deployment(args.deployment)
    if args.listen:
        from vp_edge.gateway.front import Limits
        from vp_edge.gateway.serve import ServeOptions, serve_until_signal

        limits = Limits(max_inflight=args.max_inflight, max_queue=args.max_queue)
        boards = tuple(n for n in (args.boards or "").split(",") if n)
        opts = ServeOptions(args.listen, limits, args.group, boards, args.name, args.metrics)
        report = serve_until_signal(dep, opts, not args.no_progress)
    else:
        report = run_gateway_batch(
            dep,
            args.split,
            args.images,
            args.limit,
            args.inflight,
            not args.no_progress,
            args.answers,
        )
    emit(args, report, gateway_table(report))
    code, why = exit_policy(report)
    if why:
        print(f"vp-edge gateway: {why}", file=sys.stderr)
    return code
