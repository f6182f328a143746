"""``vp-edge boards``: the known board kinds, profiles and model runners."""

from __future__ import annotations

import argparse

from vp_edge.commands._common import add_json, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("boards", help="list board kinds, board profiles and model runners",
                       description="Board kinds (BOARDS), profiles (RAM, flash, clock, link, "
                       "baud; what a variant must fit) and model runners (RUNNERS).")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from boards.profiles import PROFILES
    from boards.registry import BOARDS
    from boards.runners import RUNNERS

    kinds = {k: {"description": c.description, "links": list(c.schemes), "runner": c.runner,
                 "default_profile": c.default_profile} for k, c in BOARDS.items()}
    profiles = {n: p.to_dict() for n, p in PROFILES.items()}
    runners = {n: {"artefact": c.artefact, "doc": (c.__doc__ or "").strip().splitlines()[0]}
               for n, c in RUNNERS.items()}
    lines = ["kinds:"] + [f"  {k:<7} links {'/'.join(v['links'])}, runs {v['runner']}, "
                          f"default profile {v['default_profile']}: {v['description']}"
                          for k, v in kinds.items()]
    lines += ["profiles:"] + [
        f"  {p.name:<15} {p.kind:<6} RAM {p.ram_bytes // 1024:>8} KB (arena <= "
        f"{p.arena_limit // 1024} KB), flash {p.flash_bytes // 1024:>8} KB, "
        f"{p.clock_hz / 1e6:.0f} MHz, {p.link}" + (f" {p.baud} baud" if p.baud else "")
        + (f", firmware {p.firmware_target}" if p.firmware_target else "")
        for p in PROFILES.values()]
    lines += ["runners:"] + [f"  {n:<7} {v['artefact']:<8} {v['doc']}" for n, v in runners.items()]
    emit(args, {"kinds": kinds, "profiles": profiles, "runners": runners}, "\n".join(lines))
    return 0
