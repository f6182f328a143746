"""``vp-edge load``: load-test a running gateway at rising rates (bounded in count and time)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vp_edge.commands._common import add_json, emit, float_range


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "load",
        help="load-test a running gateway: sent, answered, busy, lost, p50/p99, goodput per rate",
        description="Sends PNG/JPEG images to 'vp-edge gateway --listen udp://...' at each rate "
        "for a fixed time and waits for the replies. Every request must end answered or with an "
        "explicit error ('busy' when the gateway sheds load); 'lost' counts those with no reply "
        "at all and must be 0. Goodput is answers per second of sending: past the gateway's "
        "capacity it should stay near the capacity. Exit code 3 when any request was lost.",
    )
    p.add_argument(
        "--gateway",
        required=True,
        help="udp://HOST:PORT of a gateway or mqtt://BROKER:1883/DEPLOYMENT of a fleet",
    )
    p.add_argument("--images", type=Path, required=True, help="a folder of PNG/JPEG images")
    p.add_argument(
        "--rates",
        default="20,50,100,200",
        help="requests per second, comma-separated (default 20,50,100,200)",
    )
    p.add_argument(
        "--seconds",
        type=float_range(0, 600, low_open=True),
        default=3.0,
        help="seconds per rate (default 3)",
    )
    p.add_argument(
        "--wait",
        type=float_range(0, 600),
        default=2.0,
        help="seconds to wait for replies after the last request (default 2)",
    )
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vp_edge.gateway.loadtest import (
        load_exit_code,
        load_table,
        load_test,
        parse_rates,
        read_images,
    )

    rates = parse_rates(args.rates)
    images = read_images(args.images)
    rows = load_test(args.gateway, images, rates, args.seconds, args.wait)
    emit(args, {"gateway": args.gateway, "rows": rows}, load_table(rows))
    return load_exit_code(rows)
