"""What ``vp-edge boards`` lists, as data a script can read: board kinds (with a linux board's
LiteRT kernels), profiles (what a variant must fit), model runners, and optionally each board
of a deployment file with the runtime it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def first_sentence(doc: str) -> str:
    """A docstring's first sentence, whole (its first line may stop mid-sentence)."""
    para = " ".join(doc.strip().split("\n\n", 1)[0].split())
    end = para.find(". ")
    return para if end < 0 else para[: end + 1]


def deployment_runtimes(path: Path) -> list[dict]:
    """Each board of a deployment file and the runtime it runs (kernels included); the run
    is not checked, so a deployment is listed before its run is converted."""
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


def board_catalogue(deployment: Path | None = None) -> dict:
    """Kinds, profiles and runners by name (and "deployment": its boards, when given)."""
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
    out: dict[str, Any] = {
        "kinds": kinds,
        "profiles": {n: p.to_dict() for n, p in PROFILES.items()},
        "runners": {
            n: {"artefact": c.artefact, "doc": first_sentence(c.__doc__ or "")}
            for n, c in RUNNERS.items()
        },
    }
    if deployment is not None:
        out["deployment"] = deployment_runtimes(deployment)
    return out
