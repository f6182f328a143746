"""What every bench section reads: the run's family, model cards, test set and int8 outputs.

Built once per bench so the sections agree on the same images, k and vote weights. The int8
outputs come from ``evaluate.int8_outputs`` (cached per model and data fingerprint), so a run
that was just evaluated costs nothing here.
"""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from converters.rundir import RunDir
from vp_edge.data import Dataset
from vp_edge.errors import ArtifactError
from vp_edge.family import Family
from vp_edge.train import BASELINE

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class BenchContext:
    """A converted run, ready to be measured."""

    run: Path
    family: Family
    cards: dict[str, dict]
    test: Dataset
    outputs: dict[str, np.ndarray]
    k: int

    @property
    def variants(self) -> list[str]:
        return [v.name for v in self.family.variants]

    @property
    def has_baseline(self) -> bool:
        return BASELINE in self.cards

    def model_path(self, name: str) -> Path:
        return RunDir(self.run).model(name)

    def input_bytes(self, name: str) -> int:
        return int(np.prod(self.cards[name]["input_shape"][1:]))


def load_context(run: Path, k: int, test_limit: int | None, show: bool) -> BenchContext:
    """Family, cards, test subset (default: the images the cards were scored on), outputs."""
    from vp_edge.convert import load_run_data
    from vp_edge.evaluate import int8_outputs, load_cards
    from vp_edge.train import load_run_family
    from vp_edge.vote import check_k

    run = Path(run)
    family = load_run_family(run)
    cards = load_cards(run, family)
    if not cards:
        raise ArtifactError(f"{run} has no model cards; run 'vp-edge convert --run {run}'")
    k = check_k(k, family.num_classes)
    card_images = next(iter(cards.values())).get("test_images")
    limit = test_limit if test_limit is not None else card_images
    test = load_run_data(run, family).test.subset(limit)
    outputs = int8_outputs(run, cards, test, "", show)
    return BenchContext(run, family, cards, test, outputs, k)


def machine() -> dict:
    """Where the numbers were taken: OS, Python, CPU model and count, load at start."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (None, None, None)
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "loadavg_at_start": [round(v, 2) for v in load if v is not None],
    }


def git_revision(root: Path = ROOT) -> dict:
    """HEAD and whether the working tree differs from it (numbers from a dirty tree say so)."""

    def git(*a: str) -> str | None:
        try:
            r = subprocess.run(
                ["git", "-C", str(root), *a], capture_output=True, text=True, timeout=20
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    head = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"revision": head, "dirty": bool(status) if status is not None else None}
