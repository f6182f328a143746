"""``vp-edge emulate``: start a deployment's boards as emulated processes until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from vp_edge.commands._common import add_json, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "emulate",
        help="run a deployment's boards as emulated processes (UDP daemons, MCUs behind ptys)",
        description="linux boards run the real 'vp-edge board serve' daemon on their loopback "
        "UDP port; mcu boards run tflite-micro with their profile's arena limit behind a "
        "pseudo-terminal throttled to the profile's baud rate, published for pty://NAME links. "
        "Ctrl-C stops them cleanly.",
    )
    p.add_argument("--deployment", type=Path, required=True, help="deployment TOML file")
    p.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for start-up")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from boards.emulate import ready_path, start_emulation
    from vp_edge.deployment import load_deployment

    dep = load_deployment(args.deployment)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    emu = start_emulation(dep, timeout=args.timeout)
    try:
        boards = {b.name: {**json.loads(ready_path(dep, b).read_text()), "kind": b.kind,
                           "variant": b.variant, "profile": b.profile} for b in dep.boards}
        lines = [f"{n:<10} {i['kind']:<6} {i['variant']:<8} {i['profile']:<15} pid {i['pid']} "
                 f"{i['link']}" + (f" -> {i['pty']}" if i["pty"] else "")
                 for n, i in boards.items()]
        emit(args, {"boards": boards, "state_dir": str(dep.state_dir)},
             "\n".join(lines) + "\nemulating; Ctrl-C stops")
        sys.stdout.flush()
        while not stop.wait(0.5):
            dead = [n for n, ok in emu.alive().items() if not ok]
            if dead:
                print(f"vp-edge emulate: board(s) exited: {', '.join(dead)}", file=sys.stderr)
                break
    finally:
        emu.stop()
    return 0
