"""``vp-edge gateway``: live voting over a deployment's boards (data set, image folder or UDP)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from vp_edge.commands._common import POSITIVE, add_json, emit, host_port, int_range

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


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


def _inputs(args: argparse.Namespace, dep) -> tuple:
    from vp_edge.data import load_image
    from vp_edge.errors import DataError
    from vp_edge.train import load_run_family

    family = load_run_family(dep.run)
    if args.split:
        from vp_edge.convert import load_run_data

        data = getattr(load_run_data(dep.run, family), args.split).subset(args.limit)
        return data.x, data.y, None
    files = sorted(f for f in args.images.glob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{args.images}: no .png/.jpg/.jpeg/.bmp images found")
    files = files[: args.limit]
    import numpy as np

    return np.stack([load_image(f, family.input_shape) for f in files]), None, files


async def _batch(dep, x, y, args: argparse.Namespace) -> tuple[dict, list]:
    from vp_edge.gateway.batch import run_batch_async
    from vp_edge.gateway.core import Gateway

    gw = Gateway(dep)
    await gw.start()
    try:
        answers = await run_batch_async(gw, x, y, args.inflight, not args.no_progress)
    finally:
        await gw.close()
    return gw.report(), answers


async def _serve(dep, args: argparse.Namespace) -> dict:
    from vp_edge.errors import VpEdgeError
    from vp_edge.gateway.front import Limits
    from vp_edge.gateway.serve import ServeOptions, serve

    for flag in ("max_inflight", "max_queue"):
        if getattr(args, flag) < 1:
            raise VpEdgeError(f"--{flag.replace('_', '-')} must be >= 1")
    opts = ServeOptions(
        args.listen,
        Limits(max_inflight=args.max_inflight, max_queue=args.max_queue),
        args.group,
        tuple(n for n in (args.boards or "").split(",") if n),
        args.name,
        args.metrics,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def started(gw) -> None:
        print(
            f"gateway: serving {args.listen} ({sum(b.up for b in gw.boards.values())}/"
            f"{len(gw.boards)} boards up)"
            + (f", metrics and status page on http://{args.metrics}/" if args.metrics else "")
            + "; Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )

    def show(reply: dict) -> None:
        if not args.no_progress:
            what = reply.get("class_name") if reply.get("ok") else reply.get("error")
            print(f"answer id={reply.get('id')}: {what}", file=sys.stderr)

    return await serve(dep, opts, stop, started, show)


def run(args: argparse.Namespace) -> int:
    from vp_edge.deployment import load_deployment
    from vp_edge.gateway.stats import gateway_table

    dep = load_deployment(args.deployment)
    if args.listen:
        report = asyncio.run(_serve(dep, args))
        emit(args, report, gateway_table(report))
        return exit_code(report)
    # everything that can fail is checked before a board hears a frame (Gateway.start)
    x, y, files = _inputs(args, dep)
    with _answers_file(args.answers) as fh:
        report, answers = asyncio.run(_batch(dep, x, y, args))
        for a in answers if fh else ():
            d = a.to_dict()
            if files is not None:
                d["file"] = str(files[a.index])
            fh.write(json.dumps(d) + "\n")
    emit(args, report, gateway_table(report))
    return exit_code(report)


@contextlib.contextmanager
def _answers_file(path: Path | None) -> Iterator[TextIO | None]:
    """``--answers`` opened for writing up front, so a bad path fails before any board is
    contacted (a usage error, exit 2)."""
    if path is None:
        yield None
        return
    from vp_edge.errors import UsageError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = path.open("w")
    except OSError as e:
        raise UsageError(f"--answers {path}: cannot write it: {e.strerror or e}") from None
    with fh:
        yield fh


def exit_code(report: dict) -> int:
    """3 when a request got an error, or when a board was refused and every answer was
    degraded (the ensemble ran short the whole time); 0 otherwise."""
    refused = [name for name, b in report["boards"].items() if b.get("refused")]
    if report["errors"]:
        return 3
    if refused and report["requests"] and report["degraded"] == report["requests"]:
        print(
            f"vp-edge gateway: every answer was degraded; refused: {', '.join(refused)}",
            file=sys.stderr,
        )
        return 3
    return 0
