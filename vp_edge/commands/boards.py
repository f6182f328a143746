"""``vp-edge boards``: the known board kinds, profiles and model runners."""

from __future__ import annotations

import argparse
from pathlib import Path

from vp_edge.board_catalogue import first_sentence as first_sentence  # re-exported
from vp_edge.commands._common import add_json, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "boards",
        help="list board kinds, board profiles and model runners",
        description="Board kinds (BOARDS; a linux board's LiteRT kernels: "
        "xnnpack by default, builtin or ref), profiles (RAM, flash, clock, link, "
        "baud; what a variant must fit) and model runners (RUNNERS); with "
        "--deployment, also each board of that file and the runtime it runs.",
    )
    p.add_argument(
        "--deployment",
        type=Path,
        default=None,
        help="also list this deployment's boards with their runtime and kernels",
    )
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vp_edge.board_catalogue import board_catalogue

    out = board_catalogue(args.deployment)
    emit(args, out, _text(out, args.deployment))
    return 0


def _text(out: dict, deployment: Path | None) -> str:
    lines = ["kinds:"] + [
        f"  {k:<7} links {'/'.join(v['links'])}, runs {v['runner']}"
        + (
            f" (kernels {v['kernels']['default']} by default; {'|'.join(v['kernels']['choices'])})"
            if "kernels" in v
            else ""
        )
        + f", default profile {v['default_profile']}: {v['description']}"
        for k, v in out["kinds"].items()
    ]
    lines += ["profiles:"] + [
        f"  {p['name']:<15} {p['kind']:<6} RAM {size_text(p['ram_bytes']):>6} (arena <= "
        f"{size_text(p['arena_limit'])}), flash {size_text(p['flash_bytes']):>6}, "
        f"{p['clock_hz'] / 1e6:.0f} MHz, {p['link']}"
        + (f" {p['baud']} baud" if p["baud"] else "")
        + (f", firmware {p['firmware_target']}" if p["firmware_target"] else "")
        for p in out["profiles"].values()
    ]
    lines += ["runners:"] + [
        f"  {n:<7} {v['artefact']:<8} {v['doc']}" for n, v in out["runners"].items()
    ]
    if deployment is not None:
        lines += [f"boards of {deployment}:"] + [
            f"  {b['name']:<10} id {b['id']:<5} {b['kind']:<6} {b['variant']:<10} runs "
            f"{b['runtime']}"
            for b in out["deployment"]
        ]
    return "\n".join(lines)


def size_text(n: int) -> str:
    """Bytes in the largest binary unit that keeps a whole number: 256 KB, 4 GB, 1.5 MB."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n} B"
