"""``vp-edge firmware``: the board firmware itself: list targets, build one, load it on a board.

  vp-edge firmware targets                      the target table (firmware_bridge/firmware/)
  vp-edge firmware build --target T [--json]    ELF + BIN + size report (flash, RAM vs the part)
  vp-edge firmware load --target T --probe auto|pyocd|openocd|gdb://HOST:PORT
  vp-edge firmware provision --target T --board-id N --key-file F --probe ...

Exit codes: 0 ok, 1 build failed, 2 usage (unknown target, missing ELF or tool), 3 probe/link.
"""

from __future__ import annotations

import argparse

from vp_edge.commands._common import BOARD_ID, add_json, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "firmware",
        help="build the board firmware for a target, or load it",
        description="The microcontroller firmware (docs/firmware.md): the "
        "target table, a build per target with its size against the part, and "
        "loading it onto a board through a debug probe or a GDB server.",
    )
    cmds = p.add_subparsers(dest="firmware_cmd", metavar="ACTION")
    t = cmds.add_parser("targets", help="list the firmware targets")
    add_json(t)
    t.set_defaults(func=run_targets)
    b = cmds.add_parser("build", help="build ELF + BIN for a target and report its size")
    b.add_argument("--target", required=True, help="a name from 'vp-edge firmware targets'")
    b.add_argument("--defs", default="", help="extra C defines, e.g. '-DFW_KEY_INIT={0x01,...}'")
    add_json(b)
    b.set_defaults(func=run_build)
    ld = cmds.add_parser(
        "load",
        help="write the built firmware to a board and reset it",
        description="auto: pyOCD if 'pyocd' is on PATH, else OpenOCD. "
        "gdb://HOST:PORT: any GDB remote-protocol server (QEMU -gdb, a probe's "
        "gdbserver). pyOCD and OpenOCD are run with their documented command "
        "lines and have not been tried on hardware here.",
    )
    ld.add_argument("--target", required=True)
    ld.add_argument("--probe", default="auto", help="auto, pyocd, openocd or gdb://HOST:PORT")
    ld.add_argument("--elf", default=None, help="the image (default: the build's vp_fw.elf)")
    add_json(ld)
    ld.set_defaults(func=run_load)
    pv = cmds.add_parser(
        "provision",
        help="write a board's id and key into its flash",
        description="Writes the provisioning record (board id, deployment or "
        "per-board key, CRC-32C) into the first storage sector of the board "
        "(STM32F4: sector 1 at 0x08004000) with the same probes as 'load'; the "
        "firmware reads it at boot. Loading the firmware ELF does not touch it.",
    )
    pv.add_argument("--target", required=True)
    pv.add_argument("--probe", default="auto", help="auto, pyocd, openocd or gdb://HOST:PORT")
    pv.add_argument("--board-id", type=BOARD_ID, required=True, help="the board's id (0-65535)")
    pv.add_argument(
        "--key-file",
        metavar="F",
        help="the deployment's master key (hex text or raw bytes, >= 16 bytes); the "
        "board is given only its own key, derived for --board-id",
    )
    pv.add_argument("--insecure", action="store_true", help="no key (bring-up only)")
    add_json(pv)
    pv.set_defaults(func=run_provision)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def run_targets(args: argparse.Namespace) -> int:
    from firmware_bridge.firmware.targets import TARGETS

    lines = [
        f"{n:<17} {t.core:<10} {t.clock_hz / 1e6:>5.0f} MHz  "
        f"{'QEMU ' + t.qemu_machine if t.qemu_machine else 'no emulator':<22} {t.description}"
        for n, t in TARGETS.items()
    ]
    emit(args, {n: t.to_dict() for n, t in TARGETS.items()}, "\n".join(lines))
    return 0


def run_build(args: argparse.Namespace) -> int:
    from firmware_bridge.firmware.build import build, size_line, size_report

    elf = build(args.target, defs=args.defs)
    rep = size_report(args.target, elf)
    rep["bin"] = str(elf.with_suffix(".bin")) if elf.suffix == ".elf" else None
    emit(args, rep, f"{size_line(rep)}\n  {elf}" + (f"\n  {rep['bin']}" if rep["bin"] else ""))
    return 0


def run_load(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from firmware_bridge.firmware.load import load

    rep = load(args.target, probe=args.probe, elf=args.elf)
    segs = ", ".join(f"{n:,} B at {a:#010x}" for a, n in rep.segments)
    emit(
        args,
        asdict(rep),
        f"loaded {rep.elf} onto {rep.target} via {rep.probe} in "
        f"{rep.seconds:.1f} s ({segs}); the board was reset",
    )
    return 0


def run_provision(args: argparse.Namespace) -> int:
    from vp_edge.flash_run import provision_board

    rep, at = provision_board(args.target, args.probe, args.board_id, args.key_file, args.insecure)
    emit(
        args,
        rep,
        f"provisioned board {rep['board_id']} ({'keyed' if rep['keyed'] else 'insecure'}) on "
        f"{rep['target']} via {rep['probe']}: record at {at:#010x}; the board was reset",
    )
    return 0
