"""``vp-edge emulate``: start a deployment's boards as emulated processes until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from vp_edge.commands._common import SECONDS, add_json, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "emulate",
        help="run a deployment's boards as emulated processes (UDP daemons, MCUs behind ptys, "
        "PYNQ, QEMU firmware)",
        description="linux boards run the real 'vp-edge board serve' daemon on their loopback "
        "UDP port; mcu boards run tflite-micro with their profile's arena limit behind a "
        "pseudo-terminal throttled to the profile's baud rate, published for pty://NAME links; "
        "pynq boards run the PYNQ daemon on a simulated PYNQ-Z2 in .venv-pynq ('make setup' "
        "builds it); qemu boards boot the Cortex-M4 firmware in QEMU, get the variant's .vpw "
        "through 'vp-edge flash' (verified) and then publish their UART for pty://NAME. "
        "A board that dies is reported and the others keep serving (--restart starts it "
        "again); the command ends when asked to (Ctrl-C, SIGTERM: exit 130) or when every "
        "board is gone (exit 3). Ctrl-C stops them cleanly.",
    )
    p.add_argument("--deployment", type=Path, required=True, help="deployment TOML file")
    p.add_argument("--timeout", type=SECONDS, default=90.0, help="seconds to wait for start-up")
    p.add_argument(
        "--restart",
        action="store_true",
        help="restart a board that dies (default: report it, keep the others)",
    )
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from boards.emulation import emulate
    from vp_edge.deployment import load_deployment

    dep = load_deployment(args.deployment)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if any(b.kind == "pynq" for b in dep.boards):
        say(
            "pynq boards run the overlay's Verilated RTL where it builds here (once, minutes; "
            "then cached), else the C engine; VP_PYNQ_FABRIC=engine|rtl chooses"
        )

    def shown(boards: dict[str, dict]) -> None:
        lines = [
            f"{n:<10} {i['kind']:<6} {i['variant']:<8} {i['profile']:<15} pid {i['pid']} "
            f"{i['link']}"
            + (f" -> {i['pty']}" if i["pty"] else "")
            + (f" (fabric {i['fabric']})" if i.get("fabric") else "")
            + _flashed(i)
            for n, i in boards.items()
        ]
        emit(
            args,
            {"boards": boards, "state_dir": str(dep.state_dir)},
            "\n".join(lines) + "\nemulating; Ctrl-C stops",
        )
        sys.stdout.flush()

    return emulate(dep, stop, shown, say, timeout=args.timeout, restart=args.restart)


def say(text: str) -> None:
    print(f"vp-edge emulate: {text}", file=sys.stderr, flush=True)


def _flashed(info: dict) -> str:
    """A qemu board's load: flashed and verified, or already running the model."""
    f = info.get("flash")
    if not f:
        return ""
    if "skipped" in f:
        return " (model already flashed)"
    return f" (flashed {f['size']} B in {f['seconds']:.1f} s, " + (
        "verified)" if f["verified"] else "NOT verified)"
    )
