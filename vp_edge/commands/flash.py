"""``vp-edge flash``: write a model artefact into a board's inactive slot, verified end to end.

Exit codes: 0 flashed and verified, 2 usage/input error, 3 link error or board refusal,
4 verification failed (hash, tag, self-test or readback), 5 timeout (no answer).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vp_edge.commands._common import BAUD, BOARD_ID, POSITIVE, SECONDS, add_json, emit


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "flash",
        help="flash a .vpw (or a board's model file) into a board, verified",
        description="Send ARTIFACT to the board at --board through the LOAD session: it is "
        "written into the inactive slot, checked there (SHA-256, HMAC-SHA256 under the "
        "board's key derived from the deployment key, engine self-test on the golden input) and "
        "only then activated; the "
        "board's readback hash of its active slot must match. On any failure the board keeps "
        "serving its old model. Before the transfer the artefact is checked here as the "
        "board would (.vpw version, golden self-test; with --deployment also the board's kind, "
        "size and arena against its profile). With --deployment FILE --board NAME the link, "
        "board id, key and counter epoch come from the deployment, and the artefact must have "
        "a model card (NAME.json beside it, or a model of the deployment's run) with the run's "
        "classes: it is registered so the running gateway re-learns the board from its HELLO "
        "and keeps voting with it (docs/protocol.md §4: flash and gateway never lock each other "
        "out); a serial board that a running gateway holds is reached through that gateway's "
        "relay (STATE_DIR/gateway.sock). Exit codes: 0 ok, 2 usage or an "
        "artefact the board would refuse, 3 link/board refused, 4 verification failed, "
        "5 timeout.",
    )
    _add_board(p)
    _add_session(p)
    add_json(p)
    p.set_defaults(func=run)


def _add_board(p: argparse.ArgumentParser) -> None:
    """What to flash, into which board, as whom."""
    p.add_argument("artifact", metavar="ARTIFACT", help="the model file, e.g. model.vpw")
    p.add_argument(
        "--board",
        "--port",
        dest="board",
        required=True,
        metavar="URL|NAME",
        help="serial device or URL (/dev/ttyACM0, socket://host:port, a pty path, "
        "udp://host:port); with --deployment: a board's name, id or link",
    )
    p.add_argument(
        "--deployment",
        type=Path,
        default=None,
        metavar="FILE",
        help="take link, board id, key and epoch file from this deployment",
    )
    p.add_argument("--board-id", type=BOARD_ID, default=None, help="the board's id (default 1)")
    p.add_argument(
        "--key-file",
        metavar="F",
        help="deployment (master) key: hex text or raw bytes, >= 16 bytes; the "
        "frames and the artefact's HMAC use the key derived for --board-id",
    )
    p.add_argument(
        "--insecure", action="store_true", help="no key: insecure frames (bring-up boards only)"
    )


def _add_session(p: argparse.ArgumentParser) -> None:
    """How the LOAD session runs."""
    p.add_argument("--baud", "-b", type=BAUD, default=115200, help="serial baud rate (115200)")
    p.add_argument(
        "--epoch-file",
        metavar="F",
        default=None,
        help="gateway counter epoch file (default ~/.local/state/vp-edge/gateway.epoch)",
    )
    p.add_argument("--timeout", type=SECONDS, default=0.5, help="seconds per try (0.5)")
    p.add_argument("--retries", type=POSITIVE, default=5, help="tries per message (5)")
    p.add_argument(
        "--no-activate",
        action="store_true",
        help="write and verify the slot but keep the running model active",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="skip the local check and send the artefact as it is (testing a board's own checks)",
    )


def run(args: argparse.Namespace) -> int:
    from vp_edge.flash_run import flash_artifact, flash_table, flash_target

    target = flash_target(
        args.board,
        args.deployment,
        args.board_id,
        args.key_file,
        args.insecure,
        args.epoch_file,
        args.baud,
    )
    report = flash_artifact(
        args.artifact,
        target,
        activate=not args.no_activate,
        timeout=args.timeout,
        tries=args.retries,
        force=args.force,
        show_progress=not (args.json == "-" and not sys.stderr.isatty()),
    )
    emit(args, report, flash_table(report))
    return 0
