"""Fixtures for the firmware_bridge tests: the C harness, compiled once per session."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from bridge_helpers import C_DIR, C_FLAGS


@pytest.fixture(scope="session")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vp_harness built with gcc (ASan+UBSan) in a temporary directory."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found: the C cross-checks need it")
    exe = tmp_path_factory.mktemp("c") / "vp_harness"
    srcs = [C_DIR / "tools" / "vp_harness.c", C_DIR / "vp_proto.c", C_DIR / "vp_msg.c"]
    subprocess.run([gcc, *C_FLAGS, "-o", str(exe), *map(str, srcs)], check=True)
    return exe
