"""``vp-edge board serve``: one variant as a board daemon (a Raspberry Pi, an emulated MCU, or a
PYNQ board driving the vp_top overlay, real or ``--simulate``d)."""

from __future__ import annotations

import argparse
from pathlib import Path

from converters.interpreters import LITERT_KERNELS
from vp_edge.commands._common import (
    BAUD,
    BOARD_ID,
    BOARD_K,
    add_json,
    emit,
    float_range,
)
from vp_edge.deployment import MAX_HEARTBEAT_MS, MIN_HEARTBEAT_MS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("board", help="run a board daemon (serve one variant over a link)")
    bsub = p.add_subparsers(dest="board_command", metavar="ACTION")
    s = bsub.add_parser(
        "serve",
        help="serve one model over UDP (linux, pynq) or a pty/serial link (emulated mcu)",
        description="Serve one int8 model per docs/protocol.md: HELLO at start and on PROBE, INFER "
        "reassembly, RESULT with the top-k of the int8 output, HEARTBEAT, ERROR. Frames are "
        "authenticated with the board's own key (derived from the deployment key); --insecure "
        "only when explicitly given. Stops "
        "cleanly on Ctrl-C or SIGTERM and prints its counters.",
    )
    _add_model(s)
    _add_link(s)
    add_json(s)
    s.set_defaults(func=serve)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _add_model(s: argparse.ArgumentParser) -> None:
    """What the board serves, as whom, and with which runtime."""
    s.add_argument(
        "--model", type=Path, required=True, help=".tflite (.vpw: --runner engine, or --kind pynq)"
    )
    s.add_argument(
        "--listen",
        required=True,
        help="udp://0.0.0.0:PORT, pty://NAME (emulated serial), serial:///dev/ttyX or "
        "mqtt://BROKER:1883/DEPLOYMENT (topics vp/DEPLOYMENT/board/ID/rx|tx)",
    )
    s.add_argument(
        "--board-id", type=BOARD_ID, required=True, help="board id on the wire, 0..65535"
    )
    keys = s.add_mutually_exclusive_group(required=True)
    keys.add_argument(
        "--key-file",
        type=Path,
        help="this board's own key ('vp-edge keys derive'): hex or raw, >= 16 bytes",
    )
    keys.add_argument(
        "--insecure", action="store_true", help="no authentication (bring-up and tests only)"
    )
    s.add_argument(
        "--kind",
        default="linux",
        help="board kind: linux (default), mcu or pynq "
        "(a qemu board is the firmware itself: 'vp-edge emulate' boots and flashes it)",
    )
    s.add_argument(
        "--overlay", type=Path, default=None, help="pynq: the vp_top .bit (its .hwh next to it)"
    )
    s.add_argument(
        "--simulate",
        action="store_true",
        help="pynq: a simulated PYNQ-Z2 (needs the pynq package: .venv-pynq)",
    )
    s.add_argument("--runner", default=None, help="litert, tflm or engine (default per kind)")
    s.add_argument(
        "--kernels",
        choices=LITERT_KERNELS,
        default=None,
        help="litert runner (linux boards): LiteRT's kernels, xnnpack (default), "
        "builtin or ref; offline checks run the same",
    )
    s.add_argument(
        "-k",
        "--k",
        type=BOARD_K,
        default=2,
        help="pairs per RESULT (default 2); 0: answer TENSOR, the whole output",
    )
    s.add_argument("--variant", default=None, help="variant name in HELLO (default: model stem)")
    s.add_argument("--profile", default=None, help="board profile (default per kind)")


def _add_link(s: argparse.ArgumentParser) -> None:
    """The link's timing and the files the daemon shares with its emulator and flash."""
    s.add_argument("--pty-dir", type=Path, default=None, help="where pty://NAME is published")
    s.add_argument(
        "--epoch-file",
        type=Path,
        default=None,
        help="boot-epoch file for the frame counter (default: wall-clock seconds)",
    )
    s.add_argument(
        "--heartbeat-ms",
        type=float_range(MIN_HEARTBEAT_MS, MAX_HEARTBEAT_MS),
        default=1000.0,
        help="heartbeat period, 10 ms to an hour",
    )
    s.add_argument(
        "--baud",
        type=BAUD,
        default=None,
        help="throttle a serial link to this baud (default: the profile's on ptys)",
    )
    s.add_argument("--ready-file", type=Path, default=None, help="written once serving")
    s.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="accept 'vp-edge flash' (verified LOAD session) into two model slots "
        "kept here; a flashed model is served instead of --model, also after restart",
    )


def serve(args: argparse.Namespace) -> int:
    from boards.daemon import BoardOptions
    from firmware_bridge.protocol.keys import read_key
    from vp_edge.board_serve import serve_board, stopped_line

    key = None if args.key_file is None else read_key(args.key_file, f"--key-file {args.key_file}")
    opts = BoardOptions(
        args.model,
        args.listen,
        args.board_id,
        key,
        args.kind,
        args.runner,
        args.k,
        args.variant,
        args.profile,
        args.pty_dir,
        args.epoch_file,
        args.heartbeat_ms / 1000,
        args.baud,
        args.model_dir,
        args.kernels,
    )
    served = serve_board(opts, args.overlay, args.simulate, args.ready_file)
    if served is not None:
        stats, variant = served
        emit(args, stats, stopped_line(args.board_id, variant, stats))
    return 0
