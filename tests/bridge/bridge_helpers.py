"""Constants and helpers shared by the firmware_bridge tests (imported as ``bridge_helpers``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

C_DIR = Path(__file__).resolve().parents[2] / "firmware_bridge" / "protocol" / "c"
KEY = b"deployment-key-0123456789abcdef"
C_FLAGS = [
    "-std=c99",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Wconversion",
    "-Wshadow",
    "-Werror",
    "-O1",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=undefined",
]


def run_harness(exe: Path, args: list[str], stdin: str) -> list[str]:
    """Run the harness, fail on a non-zero exit (a sanitizer report included)."""
    proc = subprocess.run(
        [str(exe), *args], input=stdin, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()
