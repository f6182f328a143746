"""``vp-edge devices``: serial ports, and the boards of deployments (emulated or not)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vp_edge.commands._common import add_json, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "devices",
        help="list serial ports and the boards of deployments (running or not, HELLO with --probe)",
        description="Serial ports as pyserial sees them (device, description, USB VID:PID), "
        "then every board of each deployment: its link, whether its emulator is running "
        "(read from the deployment's state folder; nothing is sent) and, with --probe, the "
        "HELLO it answers (kind, k, classes, input bytes, model hash, variant). Without "
        "--deployment, the deployment files (*.toml with [[boards]]) of the current folder "
        "are listed. --probe speaks with the deployment's key and a counter epoch of its own: a "
        "gateway already running for it keeps being heard.",
    )
    p.add_argument(
        "--deployment",
        type=Path,
        action="append",
        default=None,
        help="deployment file (repeatable; default: those in the current folder)",
    )
    p.add_argument("--probe", action="store_true", help="ask each board for its HELLO")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vp_edge.devices import list_devices

    doc = list_devices(args.deployment, probe=args.probe)
    emit(args, doc, table(doc["serial_ports"], doc["boards"]))
    return 0


def table(ports: list[dict], boards: list[dict]) -> str:
    lines = [f"serial ports ({len(ports)}):"]
    lines += [f"  {p['device']:<20} {p['description']:<30} {p['hwid']}" for p in ports]
    lines.append(f"deployment boards ({len(boards)}):")
    for b in boards:
        state = f"running, pid {b['pid']}" if b["running"] else "not running here"
        where = b["link"] + (f" -> {b['pty']}" if b["pty"] and b["running"] else "")
        line = (
            f"  {b['name']:<10} id {b['id']:<5} {b['kind']:<6} {b['variant']:<10} "
            f"{b['runtime']:<14} {where}  "
            f"({state})"
        )
        h = b.get("hello")
        if h:
            line += "\n      HELLO " + (
                f"error: {h['error']}"
                if "error" in h
                else f"{h['kind']} {h['variant']}, k={h['k']}, "
                f"{h['num_classes']} classes, {h['input_bytes']} B "
                f"input, model sha256 {h['model_sha256'][:16]}..."
            )
        lines.append(line)
    if not boards:
        lines.append("  (none: give --deployment FILE)")
    return "\n".join(lines)
