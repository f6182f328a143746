"""``vp-edge load``: load-test a running gateway at rising rates (bounded in count and time)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vp_edge.commands._common import add_json, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "load",
        help="load-test a running gateway: sent, answered, busy, lost, p50/p99 per rate",
        description="Sends PNG/JPEG images to 'vp-edge gateway --listen udp://...' at each rate "
        "for a fixed time and waits for the replies. Every request must end answered or with an "
        "explicit error ('busy' when the gateway sheds load); 'lost' counts those with no reply "
        "at all and must be 0. Exit code 3 when any request was lost.",
    )
    p.add_argument("--gateway", required=True,
                   help="udp://HOST:PORT of a gateway or mqtt://BROKER:1883/DEPLOYMENT of a fleet")
    p.add_argument("--images", type=Path, required=True, help="a folder of PNG/JPEG images")
    p.add_argument(
        "--rates",
        default="20,50,100,200",
        help="requests per second, comma-separated (default 20,50,100,200)",
    )
    p.add_argument("--seconds", type=float, default=3.0, help="seconds per rate (default 3)")
    p.add_argument(
        "--wait",
        type=float,
        default=2.0,
        help="seconds to wait for replies after the last request (default 2)",
    )
    add_json(p)
    p.set_defaults(func=run)


def _rates(text: str) -> list[float]:
    from vp_edge.errors import VpEdgeError

    try:
        rates = [float(r) for r in text.split(",") if r.strip()]
    except ValueError:
        rates = []
    if not rates or any(r <= 0 or r > 100_000 for r in rates):
        raise VpEdgeError(f"--rates {text!r}: expected positive numbers, e.g. 20,50,100")
    return rates


def run(args: argparse.Namespace) -> int:
    from vp_edge.commands.gateway import IMAGE_SUFFIXES
    from vp_edge.errors import DataError, VpEdgeError
    from vp_edge.gateway.loadtest import load_table, load_test

    rates = _rates(args.rates)
    if not 0 < args.seconds <= 600 or not 0 <= args.wait <= 600:
        raise VpEdgeError("--seconds must be in (0, 600] and --wait in [0, 600]")
    if not args.images.is_dir():
        raise DataError(f"--images {args.images}: not a folder of PNG/JPEG images")
    files = sorted(f for f in args.images.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{args.images}: no .png/.jpg/.jpeg/.bmp images found")
    rows = load_test(
        args.gateway, [f.read_bytes() for f in files[:256]], rates, args.seconds, args.wait
    )
    emit(args, {"gateway": args.gateway, "rows": rows}, load_table(rows))
    return 3 if any(r["lost"] for r in rows) else 0
