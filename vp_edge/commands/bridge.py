"""``vp-edge bridge SERIAL MQTT``: a serial microcontroller joins a fleet through a broker."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from vp_edge.commands._common import BAUD, BOARD_ID, add_json, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bridge",
        help="forward a serial board's frames to and from an MQTT broker",
        description="Splits the board's UART stream into frames (COBS, 0x00-delimited) and "
        "publishes each unchanged on vp/DEPLOYMENT/board/ID/tx; frames on .../rx go to the "
        "UART. The bridge holds no key: frames stay authenticated end to end. Both links "
        "reconnect after errors; Ctrl-C stops and prints the counts.",
    )
    p.add_argument("serial", help="serial:///dev/ttyACM0?baud=115200, pty://NAME, socket://H:P")
    p.add_argument("mqtt", help="mqtt://BROKER:1883/DEPLOYMENT[/ID] (or mqtts://...)")
    p.add_argument(
        "--board-id",
        type=BOARD_ID,
        default=None,
        help="the board's id when the MQTT URL names only the deployment",
    )
    p.add_argument("--baud", type=BAUD, default=None, help="UART baud when the URL has none")
    p.add_argument("--pty-dir", type=Path, default=None, help="where pty://NAME is published")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from boards.bridge import bridge

    b = bridge(args.serial, args.mqtt, args.board_id, pty_dir=args.pty_dir, baud=args.baud)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: b.stop.set())
    counts = b.run()
    emit(args, counts, "bridge stopped: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0
