"""Type-check every package at once and hold each to its recorded error count (``make lint``).

``[tool.vp-edge.mypy-baseline]`` in pyproject.toml records the errors each package may have:
0 for firmware_bridge, converters and boards; vp_edge and experiments start at what they had
and may only fall. A package over its count fails (exit 1); one under it passes and says to
lower the record, so the count ratchets down.

Usage: ``python scripts/mypy_counts.py [--mypy 'python -m mypy']``.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ERROR = re.compile(r"^([A-Za-z_]\w*)[/\\][^:]*:\d+: error:", re.M)


def baseline(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, int]:
    """The recorded count per package."""
    data = tomllib.loads(pyproject.read_text())
    return {k: int(v) for k, v in data["tool"]["vp-edge"]["mypy-baseline"].items()}


def count(output: str) -> Counter[str]:
    """Errors per top-level package in mypy's output."""
    return Counter(m.group(1) for m in ERROR.finditer(output))


def compare(found: Counter[str], allowed: dict[str, int]) -> tuple[list[str], list[str]]:
    """(failures, notes): packages over their count, and those under it (lower the record)."""
    bad = [
        f"{p}: {found[p]} mypy errors, more than the {n} recorded"
        for p, n in allowed.items()
        if found[p] > n
    ]
    bad += [
        f"{p}: {n} mypy errors in a package with no record"
        for p, n in found.items()
        if p not in allowed
    ]
    notes = [
        f"{p}: {found[p]} mypy errors, fewer than the {n} recorded: lower the record in "
        "pyproject.toml"
        for p, n in allowed.items()
        if found[p] < n
    ]
    return bad, notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mypy", default=f"{sys.executable} -m mypy", help="the mypy command")
    args = ap.parse_args(argv)
    allowed = baseline()
    run = subprocess.run(
        [*shlex.split(args.mypy), *allowed], cwd=ROOT, capture_output=True, text=True
    )
    if run.returncode not in (0, 1):  # 2: mypy itself failed (bad configuration, crash)
        print(run.stdout + run.stderr, file=sys.stderr)
        return 2
    found = count(run.stdout)
    bad, notes = compare(found, allowed)
    for line in (*bad, *notes):
        print(f"mypy_counts: {line}", file=sys.stderr)
    summary = ", ".join(f"{p} {found[p]}/{n}" for p, n in allowed.items())
    print(f"mypy errors per package (found/recorded): {summary}")
    if bad:
        print(run.stdout, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
