"""Main-suite side of the PYNQ tests: run tests/pynq/inner inside .venv-pynq, plus what needs
no pynq (the missing-pynq error, the daemon's argv, the .hwh against docs/vpw.md)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from boards.pynq import PYNQ_VENV, PynqRunner, emulator_command
from boards.pynq_overlay import REGISTERS, hwh_text
from vp_edge.errors import BoardError

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / "scripts" / "setup.d" / "40-pynq-venv.sh"
ENGINE_MODELS = ("convs:1", "pools:1", "residual:1", "resize:1", "tiny:0")


@pytest.fixture(scope="session")
def pynq_python() -> Path:
    """.venv-pynq's python; builds it (idempotent script) when `make setup` has not."""
    r = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=1200)
    py = PYNQ_VENV / "bin" / "python"
    if r.returncode != 0 or not py.exists():
        pytest.skip(
            f".venv-pynq could not be built (pip needs to reach pynq==4.0.0): "
            f"{r.stderr.strip()[-600:]}"
        )
    return py


@pytest.fixture(scope="session")
def packed_models(request: pytest.FixtureRequest, tmp_path_factory) -> Path:
    """The engine's seeded test models (tests/engine/make_models.py, cached), packed to .vpw."""
    out = tmp_path_factory.mktemp("pynq_vpw")
    if importlib.util.find_spec("tensorflow") is None:
        return out  # the inner tests still run tests/pynq/data/tiny.vpw
    from converters.vpw import tflite_to_vpw

    cache = Path(request.config.cache.mkdir("vp_engine_models_v1"))
    missing = [m for m in ENGINE_MODELS if not (cache / f"{m.replace(':', '_')}.tflite").exists()]
    if missing:
        cmd = [
            sys.executable,
            str(ROOT / "tests/engine/make_models.py"),
            str(cache),
            ",".join(missing),
        ]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
    for m in ENGINE_MODELS:
        name = m.replace(":", "_")
        (out / f"{name}.vpw").write_bytes(tflite_to_vpw((cache / f"{name}.tflite").read_bytes()))
    return out


@pytest.mark.slow
def test_pynq_suite_in_pynq_venv(pynq_python: Path, packed_models: Path, tmp_path: Path) -> None:
    counts = tmp_path / "counts.json"
    env = {
        "VP_PYNQ_VPW_DIR": str(packed_models),
        "VP_PYNQ_COUNT_FILE": str(counts),
        "PATH": "/usr/bin:/bin",
        "HOME": str(Path.home()),
    }
    r = subprocess.run(
        [str(pynq_python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/pynq/inner"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    got = json.loads(counts.read_text())
    assert got["models"] == 1 + len(list(packed_models.glob("*.vpw")))
    print(
        f"pynq (simulated) == host engine: {got['values']} values, {got['inferences']} "
        f"inferences, {got['models']} models; {r.stdout.strip().splitlines()[-1]}"
    )


def test_missing_pynq_is_a_clear_error() -> None:
    spec = importlib.util.find_spec("pynq")
    if spec is not None and spec.origin is not None:
        pytest.skip("pynq is installed here")
    tiny = (Path(__file__).parent / "data" / "tiny.vpw").read_bytes()
    with pytest.raises(BoardError, match="needs the 'pynq' package"):
        PynqRunner(tiny, simulate=True)


def test_emulator_command() -> None:
    argv = emulator_command("m.vpw", "udp://127.0.0.1:5601", 3, None)
    assert argv[0] == str(PYNQ_VENV / "bin" / "python")
    assert argv[1:5] == ["-m", "boards.pynq", "serve", "--simulate"]
    assert "--insecure" in argv and argv[argv.index("--board-id") + 1] == "3"
    assert "--key-file" in emulator_command("m.vpw", "udp://h:1", 3, "k.hex")


def test_hwh_registers_match_vpw_md() -> None:
    """The simulated overlay's register map is the table in docs/vpw.md."""
    table = (ROOT / "docs" / "vpw.md").read_text().split("### Register map", 1)[1]
    documented = {int(h, 16) for h in re.findall(r"^\| (0x[0-9A-F]{2})", table, re.M)}
    documented |= {
        int(h, 16) for h in re.findall(r"^\| 0x[0-9A-F]{2} / (0x[0-9A-F]{2})", table, re.M)
    }
    ours = {off for _, off, _ in REGISTERS}
    assert ours == documented
    root = ET.fromstring(hwh_text())
    names = [r.get("NAME") for r in root.iter("REGISTER")]
    assert names == [n for n, _, _ in REGISTERS]
