"""``vp-edge monitor``: a board's heartbeats, drops and log lines, as they come."""

from __future__ import annotations

import argparse
import json
import sys
import time
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


def _target(args: argparse.Namespace) -> tuple[str, int, bytes | None, Path | None, Path | None]:
    """(url, board id, key, epoch file, log file) from the deployment or the options."""
    from firmware_bridge.protocol.keys import BoardKeys, read_key
    from vp_edge.deployment import load_deployment
    from vp_edge.devices import board_url
    from vp_edge.errors import UsageError

    if args.deployment is not None:
        dep = load_deployment(args.deployment, check_run=False)
        spec = next((b for b in dep.boards if b.name == args.board), None)
        if spec is None:
            raise UsageError(
                f"{args.deployment} has no board {args.board!r}; its boards: "
                f"{', '.join(b.name for b in dep.boards)}"
            )
        return (
            board_url(dep, spec),
            spec.id,
            dep.board_keys,
            dep.epoch_file,
            dep.state_dir / "logs" / f"{spec.name}.log",
        )
    if "://" not in args.board and not args.board.startswith("/dev/"):
        raise UsageError(
            f"BOARD {args.board!r}: a board name needs --deployment FILE; otherwise give a link URL"
        )
    if args.key_file is None and not args.insecure:
        raise UsageError("with a link URL give --key-file F or --insecure")
    key = None
    if args.key_file is not None:  # the deployment's master key; the board's own is derived
        key = BoardKeys(read_key(args.key_file, f"--key-file {args.key_file}"))
    return args.board, args.board_id, key, None, None


def run(args: argparse.Namespace) -> int:
    from firmware_bridge.protocol.session import BoardSession
    from vp_edge.devices import LogTail, heartbeat

    url, board_id, key, epoch, log = _target(args)
    tail = LogTail(log)
    out = Output(args.json)
    n = 0
    prev: dict | None = None
    try:
        with BoardSession(
            url, board_id=board_id, key=key, epoch_file=epoch, timeout=0.5, tries=3
        ) as s:
            out.event({"event": "hello", **_hello(s)})
            while args.count is None or n < args.count:
                t0 = time.monotonic()
                beat = heartbeat(s)
                n += 1
                out.event({"event": "heartbeat", **beat, **_delta(prev, beat)})
                prev = beat if "error" not in beat else prev
                for line in tail.lines():
                    out.event({"event": "log", "line": line})
                if args.count is not None and n >= args.count:
                    break
                time.sleep(max(0.0, args.interval - (time.monotonic() - t0)))
    finally:
        out.close()
    return 0


def _hello(s) -> dict:
    h = s.hello()
    return {
        "variant": h.variant,
        "kind": getattr(h.board_kind, "name", "?").lower(),
        "k": h.k,
        "num_classes": h.num_classes,
        "model_sha256": h.model_sha256.hex(),
    }


def _delta(prev: dict | None, beat: dict) -> dict:
    keys = ("rx_ok", "rx_dropped", "inferences", "errors")
    if prev is None or "error" in beat:
        return {}
    return {"delta": {k: beat[k] - prev[k] for k in keys}}


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
