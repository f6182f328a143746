"""``vp-edge keys derive``: a board's own key from the deployment's master key (provisioning).

The board is provisioned with the derived key only (docs/protocol.md §4); the master stays with the
gateway. Written as hex to ``--out`` (mode 0600) or printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vp_edge.commands._common import BOARD_ID, add_json, emit
from vp_edge.keys_run import KeysUsageError as KeysUsageError  # re-exported


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keys", help="derive a board's own key from the deployment key")
    ksub = p.add_subparsers(dest="keys_command", metavar="ACTION")
    d = ksub.add_parser(
        "derive",
        help="print or write board N's key (HKDF-SHA256 of the master key and the board id)",
        description="Derive the key board --board-id is provisioned with: HKDF-SHA256 of the "
        "deployment's master key and the board id (docs/protocol.md §4). The gateway derives "
        "the same key itself; the board never holds the master key.",
    )
    d.add_argument("--board-id", type=BOARD_ID, required=True, help="the board's id, 0..65535")
    src = d.add_mutually_exclusive_group(required=True)
    src.add_argument("--key-file", type=Path, help="the deployment's master key file")
    src.add_argument("--deployment", type=Path, help="a deployment file (its key or key_file)")
    d.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the key as hex to this file (mode 0600) instead of printing it",
    )
    add_json(d)
    d.set_defaults(func=derive)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def derive(args: argparse.Namespace) -> int:
    from vp_edge.keys_run import derive_key

    info = derive_key(args.board_id, args.key_file, args.deployment, args.out)
    if args.out is not None:
        emit(args, info, f"board {args.board_id}'s key written to {args.out}")
    else:
        emit(args, info, info["key"])
    return 0
