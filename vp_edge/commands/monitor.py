"""``vp-edge monitor``: a board's heartbeats, drops and log lines, as they come."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vp_edge.commands._common import BOARD_ID, POSITIVE, add_json, float_range


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "monitor",
        aliases=["logs"],
        help="follow one board: heartbeats (uptime, frames, drops, inferences, errors) and "
        "its log lines",
        description="Ask the board for a HEARTBEAT every --interval seconds and print its "
        "counters with what changed (frames accepted and dropped, inferences, errors), plus "
        "the new lines of its log when it is an emulated board of the deployment. BOARD is a "
        "board name of --deployment (link, id and key come from there) or a link URL with "
        "--board-id and --key-file/--insecure. Like 'devices --probe', this speaks with the "
        "deployment's counter epoch: a gateway already running for it must be restarted "
        "afterwards. Ctrl-C stops; --count N stops after N heartbeats.",
    )
    p.add_argument("board", metavar="BOARD", help="a board name of --deployment, or a link URL")
    p.add_argument("--deployment", type=Path, default=None, help="deployment file")
    p.add_argument("--board-id", type=BOARD_ID, default=1, help="with a URL: the board's id")
    keys = p.add_mutually_exclusive_group()
    keys.add_argument("--key-file", type=Path, default=None, help="with a URL: the key file")
    keys.add_argument("--insecure", action="store_true", help="with a URL: no key")
    p.add_argument(
        "--interval", type=float_range(0.05, 3600), default=1.0, help="seconds between heartbeats"
    )
    p.add_argument("--count", type=POSITIVE, default=None, help="stop after N heartbeats")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vp_edge.monitor import follow_board, monitor_target

    target = monitor_target(
        args.board, args.deployment, args.board_id, args.key_file, args.insecure
    )
    out = Output(args.json)
    try:
        follow_board(target, out.event, args.interval, args.count)
    finally:
        out.close()
    return 0


class Output:
    """One line per event: readable on stdout; JSON lines under --json (stdout or PATH)."""

    def __init__(self, target: str | None) -> None:
        self.as_json = target is not None
        self.stream = sys.stdout if target in (None, "-") else open(target, "w")

    def event(self, e: dict) -> None:
        if self.as_json and self.stream is not sys.stdout:
            sys.stdout.write(_line(e) + "\n")  # people still see it; the file gets JSON
        self.stream.write((json.dumps(e) if self.as_json else _line(e)) + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.stream is not sys.stdout:
            self.stream.close()


def _line(e: dict) -> str:
    if e["event"] == "hello":
        return (
            f"HELLO {e['kind']} {e['variant']}, k={e['k']}, {e['num_classes']} classes, "
            f"model {e['model_sha256'][:16]}"
        )
    if e["event"] == "log":
        return f"log  {e['line']}"
    if "error" in e:
        return f"heartbeat error: {e['error']}"
    d = e.get("delta", {})
    plus = (lambda k: f" (+{d[k]})" if d.get(k) else "") if d else (lambda k: "")
    return (
        f"beat uptime {e['uptime_s']} s, frames ok {e['rx_ok']}{plus('rx_ok')}, dropped "
        f"{e['rx_dropped']}{plus('rx_dropped')}, sent {e['tx']}, inferences "
        f"{e['inferences']}{plus('inferences')}, errors {e['errors']}{plus('errors')}"
    )
