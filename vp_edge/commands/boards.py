"""``vp-edge boards``: the known board kinds, profiles and model runners."""

from __future__ import annotations

import argparse
from pathlib import Path

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
    from boards.profiles import PROFILES
    from boards.registry import BOARDS
    from boards.runners import RUNNERS
    from converters.interpreters import BOARD_KERNELS, LITERT_KERNELS

    kinds = {
        k: {
            "description": c.description,
            "links": list(c.schemes),
            "runner": c.runner,
            "default_profile": c.default_profile,
        }
        for k, c in BOARDS.items()
    }
    for v in kinds.values():
        if v["runner"] == "litert":
            v["kernels"] = {"default": BOARD_KERNELS, "choices": list(LITERT_KERNELS)}
    profiles = {n: p.to_dict() for n, p in PROFILES.items()}
    runners = {
        n: {"artefact": c.artefact, "doc": first_sentence(c.__doc__ or "")}
        for n, c in RUNNERS.items()
    }
    lines = ["kinds:"] + [
        f"  {k:<7} links {'/'.join(v['links'])}, runs {v['runner']}"
        + (
            f" (kernels {v['kernels']['default']} by default; {'|'.join(v['kernels']['choices'])})"
            if "kernels" in v
            else ""
        )
        + f", default profile {v['default_profile']}: {v['description']}"
        for k, v in kinds.items()
    ]
    lines += ["profiles:"] + [
        f"  {p.name:<15} {p.kind:<6} RAM {size_text(p.ram_bytes):>6} (arena <= "
        f"{size_text(p.arena_limit)}), flash {size_text(p.flash_bytes):>6}, "
        f"{p.clock_hz / 1e6:.0f} MHz, {p.link}"
        + (f" {p.baud} baud" if p.baud else "")
        + (f", firmware {p.firmware_target}" if p.firmware_target else "")
        for p in PROFILES.values()
    ]
    lines += ["runners:"] + [f"  {n:<7} {v['artefact']:<8} {v['doc']}" for n, v in runners.items()]
    out = {"kinds": kinds, "profiles": profiles, "runners": runners}
    if args.deployment is not None:
        out["deployment"] = _deployment_boards(args.deployment)
        lines += [f"boards of {args.deployment}:"] + [
            f"  {b['name']:<10} id {b['id']:<5} {b['kind']:<6} {b['variant']:<10} runs "
            f"{b['runtime']}"
            for b in out["deployment"]
        ]
    emit(args, out, "\n".join(lines))
    return 0


def first_sentence(doc: str) -> str:
    """A docstring's first sentence, whole (its first line may stop mid-sentence)."""
    para = " ".join(doc.strip().split("\n\n", 1)[0].split())
    end = para.find(". ")
    return para if end < 0 else para[: end + 1]


def size_text(n: int) -> str:
    """Bytes in the largest binary unit that keeps a whole number: 256 KB, 4 GB, 1.5 MB."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n} B"


def _deployment_boards(path: Path) -> list[dict]:
    """Each board of a deployment file and the runtime it runs (kernels included)."""
    from vp_edge.deployment import load_deployment

    dep = load_deployment(path, check_run=False)
    return [
        {
            "name": b.name,
            "id": b.id,
            "kind": b.kind,
            "variant": b.variant,
            "kernels": b.kernels or None,
            "runtime": b.runtime,
        }
        for b in dep.boards
    ]
