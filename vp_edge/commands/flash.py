"""``vp-edge flash``: write a model artefact into a board's inactive slot, verified end to end.

Exit codes: 0 flashed and verified, 2 usage/input error, 3 link error or board refusal,
4 verification failed (hash, tag, self-test or readback), 5 timeout (no answer).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vp_edge.commands._common import add_json, emit
from vp_edge.errors import VpEdgeError


class FlashUsageError(VpEdgeError):
    """Bad arguments or an unreadable artefact or key file (exit code 2)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "flash",
        help="flash a .vpw (or a board's model file) into a board, verified",
        description="Send ARTIFACT to the board at --board through the LOAD session: it is "
        "written into the inactive slot, checked there (SHA-256, HMAC-SHA256 under the "
        "board's key derived from the deployment key, engine self-test on the golden input) and "
        "only then activated; the "
        "board's readback hash of its active slot must match. On any failure the board keeps "
        "serving its old model. Exit codes: 0 ok, 2 usage, 3 link/board refused, "
        "4 verification failed, 5 timeout.",
    )
    p.add_argument("artifact", metavar="ARTIFACT", help="the model file, e.g. model.vpw")
    p.add_argument("--board", "--port", dest="board", required=True, metavar="URL",
                   help="serial device or URL (/dev/ttyACM0, socket://host:port, a pty path) "
                   "or udp://host:port")
    p.add_argument("--board-id", type=int, default=1, help="the board's id (default 1)")
    p.add_argument("--key-file", metavar="F",
                   help="deployment (master) key: hex text or raw bytes, >= 16 bytes; the "
                   "frames and the artefact's HMAC use the key derived for --board-id")
    p.add_argument("--insecure", action="store_true",
                   help="no key: insecure frames (bring-up boards only)")
    p.add_argument("--baud", "-b", type=int, default=115200, help="serial baud rate (115200)")
    p.add_argument("--epoch-file", metavar="F", default=None,
                   help="gateway counter epoch file (default ~/.local/state/vp-edge/gateway.epoch)")
    p.add_argument("--timeout", type=float, default=0.5, help="seconds per try (0.5)")
    p.add_argument("--retries", type=int, default=5, help="tries per message (5)")
    p.add_argument("--no-activate", action="store_true",
                   help="write and verify the slot but keep the running model active")
    add_json(p)
    p.set_defaults(func=run)


def _table(r: dict) -> str:
    prev = r["previous_sha256"][:16] + "..." if r["previous_sha256"] else "none"
    return "\n".join([
        f"flashed {r['size']} bytes to board {r['board_id']} slot {r['slot']} at {r['url']} "
        f"in {r['seconds']:.2f} s ({r['chunks']} chunks, {r['resends']} resends)",
        f"  previous model  {prev}",
        f"  sha256          {r['sha256']}",
        "  Hash of data verified." if r["verified"] else "  NOT verified",
        "  active" if r["activated"] else "  written, not activated (--no-activate)",
    ])


def run(args: argparse.Namespace) -> int:
    from firmware_bridge.flash import flash
    from firmware_bridge.keys import BoardKeys, read_key
    from firmware_bridge.session import DEFAULT_EPOCH_FILE

    if args.key_file and args.insecure:
        raise FlashUsageError("give --key-file or --insecure, not both")
    if not args.key_file and not args.insecure:
        raise FlashUsageError("flashing needs the deployment key (--key-file F) or --insecure")
    key = None
    if args.key_file:
        key = BoardKeys(read_key(args.key_file, f"--key-file {args.key_file}"))
    try:
        data = Path(args.artifact).read_bytes()
    except OSError as e:
        raise FlashUsageError(f"cannot read {args.artifact}: {e}") from e
    if args.artifact.endswith(".vpw") and not data.startswith(b"VPW1"):
        raise FlashUsageError(f"{args.artifact} is not a .vpw (bad magic)")
    progress = _progress(len(data), args)
    try:
        report = flash(args.board, data, board_id=args.board_id, key=key,
                       epoch_file=Path(args.epoch_file) if args.epoch_file else DEFAULT_EPOCH_FILE,
                       activate=not args.no_activate, timeout=args.timeout, tries=args.retries,
                       progress=progress.update)
    finally:
        progress.close()
    emit(args, report.to_dict(), _table(report.to_dict()))
    return 0


def _progress(total: int, args: argparse.Namespace):  # noqa: ANN202 - a Progress
    from vp_edge.progress import Progress

    quiet = args.json == "-" and not sys.stderr.isatty()
    return Progress(total, "flash", enabled=not quiet)
