"""libFuzzer smoke run of the C decoders (~20 s); the long run is documented in docs/fuzzing.md."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from bridge_helpers import C_DIR

SOURCES = [C_DIR / "fuzz" / "fuzz_decode.c", C_DIR / "vp_proto.c", C_DIR / "vp_msg.c"]
FLAGS = [
    "-std=c99",
    "-g",
    "-O1",
    "-fsanitize=fuzzer,address,undefined",
    "-fno-sanitize-recover=undefined",
]


@pytest.mark.slow
def test_fuzz_decoders_for_20_seconds_without_crash(tmp_path: Path) -> None:
    clang = shutil.which("clang") or shutil.which("clang-14")
    if clang is None:
        pytest.skip("clang not found: libFuzzer needs clang (apt-get install clang)")
    exe = tmp_path / "fuzz_decode"
    build = subprocess.run(
        [clang, *FLAGS, "-o", str(exe), *map(str, SOURCES)], capture_output=True, text=True
    )
    if build.returncode != 0 and "fuzzer" in build.stderr:
        pytest.skip(f"this clang cannot link libFuzzer: {build.stderr.strip()[:200]}")
    assert build.returncode == 0, build.stderr
    work = tmp_path / "corpus"
    work.mkdir()
    run = subprocess.run(
        [
            str(exe),
            "-max_total_time=20",
            "-max_len=2048",
            "-print_final_stats=1",
            f"-artifact_prefix={tmp_path}/",
            str(work),
            str(C_DIR / "fuzz" / "corpus"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    crashes = list(tmp_path.glob("crash-*")) + list(tmp_path.glob("leak-*"))
    assert run.returncode == 0 and not crashes, run.stderr[-3000:]
    assert "stat::number_of_executed_units" in run.stderr
