"""``vp-edge classify``: send one image to a running gateway and print its answer."""

from __future__ import annotations

import argparse
from pathlib import Path

from vp_edge.commands._common import SECONDS, add_json, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "classify",
        help="ask a running gateway (vp-edge gateway --listen) to classify one image",
        description="Sends the image file to the gateway as JSON over UDP (format in "
        "vp_edge/gateway/udp_server.py and docs/deployment.md) and prints the fused answer.",
    )
    p.add_argument("image", type=Path, help="a PNG or JPEG file")
    p.add_argument(
        "--gateway",
        required=True,
        help="udp://HOST:PORT of a gateway, or mqtt://BROKER:1883/DEPLOYMENT of a fleet",
    )
    p.add_argument("--timeout", type=SECONDS, default=5.0, help="seconds to wait (default 5)")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vp_edge.gateway.client import classify_file

    reply = classify_file(args.gateway, args.image, args.timeout)
    table = (
        f"{args.image}: {reply['class_name']} (class {reply['winner']}), "
        f"voters {', '.join(reply['voters'])}"
        + (f", missing {', '.join(reply['missing'])} (degraded)" if reply["degraded"] else "")
        + f", {reply['latency_ms']:.1f} ms"
    )
    if reply.get("preprocessed"):  # the model saw another picture than the file: say so
        table += f"\n  input: {'; '.join(reply['preprocessed'])}"
    emit(args, reply, table)
    return 0
