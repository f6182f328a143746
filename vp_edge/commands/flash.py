"""``vp-edge flash``: write a model artefact into a board's inactive slot, verified end to end.

Exit codes: 0 flashed and verified, 2 usage/input error, 3 link error or board refusal,
4 verification failed (hash, tag, self-test or readback), 5 timeout (no answer).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from firmware_bridge.files import MODEL_FILE_MAX, read_limited
from vp_edge.commands._common import BAUD, BOARD_ID, POSITIVE, SECONDS, add_json, emit
from vp_edge.flashing import FlashTarget, FlashUsageError


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
    add_json(p)
    p.set_defaults(func=run)


def _table(r: dict) -> str:
    prev = r["previous_sha256"][:16] + "..." if r["previous_sha256"] else "none"
    who = f"{r['board']} (id {r['board_id']})" if r.get("board") else str(r["board_id"])
    return "\n".join(
        [
            f"flashed {r['size']} bytes to board {who} slot {r['slot']} at {r['url']} "
            f"in {r['seconds']:.2f} s ({r['chunks']} chunks, {r['resends']} resends)",
            f"  previous model  {prev}",
            f"  sha256          {r['sha256']}",
            "  Hash of data verified." if r["verified"] else "  NOT verified",
            "  active" if r["activated"] else "  written, not activated (--no-activate)",
        ]
    )


def _target(args: argparse.Namespace) -> FlashTarget:
    """The board to flash: from the deployment, or from the URL and the key flags."""
    from vp_edge.flashing import deployment_target, session_url

    if args.deployment is not None:
        from vp_edge.deployment import load_deployment

        given = [
            f
            for f, v in (
                ("--key-file", args.key_file),
                ("--insecure", args.insecure),
                ("--epoch-file", args.epoch_file),
                ("--board-id", args.board_id),
            )
            if v not in (None, False)
        ]
        if given:
            raise FlashUsageError(
                f"{', '.join(given)}: taken from the deployment with --deployment; leave them out"
            )
        return deployment_target(load_deployment(args.deployment), args.board)
    from firmware_bridge.protocol.keys import BoardKeys, read_key
    from firmware_bridge.protocol.session import DEFAULT_EPOCH_FILE

    if args.key_file and args.insecure:
        raise FlashUsageError("give --key-file or --insecure, not both")
    if not args.key_file and not args.insecure:
        raise FlashUsageError(
            "flashing needs the deployment key (--key-file F) or --insecure; "
            "or flash a deployment's board with --deployment FILE --board NAME"
        )
    url, baud = session_url(args.board)
    key = None
    if args.key_file:
        key = BoardKeys(read_key(args.key_file, f"--key-file {args.key_file}"))
    epoch = Path(args.epoch_file) if args.epoch_file else DEFAULT_EPOCH_FILE
    return FlashTarget(
        url, 1 if args.board_id is None else args.board_id, key, epoch, baud or args.baud
    )


def run(args: argparse.Namespace) -> int:
    from firmware_bridge.flash import flash
    from vp_edge.flashing import check_artifact, deployment_card

    target = _target(args)
    try:
        data = read_limited(args.artifact, MODEL_FILE_MAX, str(args.artifact))
    except OSError as e:
        raise FlashUsageError(f"cannot read {args.artifact}: {e}") from e
    warnings = [] if args.force else check_artifact(data, args.artifact, target)
    card = None if args.force else deployment_card(data, args.artifact, target)
    if card is not None and target.dep is not None:
        from vp_edge.cards import register_card, sha256_hex

        register_card(target.dep.state_dir, sha256_hex(data), card)
    for w in warnings:
        print(f"vp-edge flash: warning: {w}", file=sys.stderr)
    progress = _progress(len(data), args)
    try:
        report = flash(
            target.url,
            data,
            board_id=target.board_id,
            key=target.key,
            epoch_file=target.epoch_file,
            activate=not args.no_activate,
            timeout=args.timeout,
            tries=args.retries,
            progress=progress.update,
            baud=target.baud,
        )
    finally:
        progress.close()
    out = report.to_dict()
    if target.spec is not None:
        out.update(board=target.spec.name, kind=target.spec.kind, link=target.spec.link)
    out["warnings"] = warnings
    emit(args, out, _table(out))
    return 0


def _progress(total: int, args: argparse.Namespace):
    from vp_edge.progress import Progress

    quiet = args.json == "-" and not sys.stderr.isatty()
    return Progress(total, "flash", enabled=not quiet)
