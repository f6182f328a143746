"""Models are checked against their cards wherever they are used: a .vpw with one flipped byte
is refused by the engine runner, ``board serve`` and ``benchmark``; a .tflite its card does not
describe by ``board serve``, ``benchmark``, ``emulate`` and ``evaluate`` (exit 2)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from boards.errors import BoardError
from boards.runners import EngineRunner
from converters.card import check_model_file
from vp_edge.cli import main
from vp_edge.errors import ArtifactError

TINY_VPW = Path(__file__).resolve().parents[1] / "pynq" / "data" / "tiny.vpw"


def flipped(blob: bytes, at: int | None = None) -> bytes:
    b = bytearray(blob)
    b[len(b) // 2 if at is None else at] ^= 1
    return bytes(b)


def test_engine_runner_refuses_a_vpw_with_one_flipped_byte() -> None:
    good = TINY_VPW.read_bytes()
    EngineRunner(good)
    with pytest.raises(BoardError, match="SHA-256"):
        EngineRunner(flipped(good))


def test_board_serve_and_benchmark_refuse_a_corrupt_vpw(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "t.vpw"
    bad.write_bytes(flipped(TINY_VPW.read_bytes()))
    assert main(
        [
            "board",
            "serve",
            "--model",
            str(bad),
            "--listen",
            "udp://127.0.0.1:0",
            "--board-id",
            "1",
            "--runner",
            "engine",
            "--insecure",
        ]
    ) in (2, 3)
    assert main(["benchmark", str(bad), "--no-qemu", "--runs", "1"]) == 2
    assert "SHA-256" in capsys.readouterr().err


def test_a_tflite_its_card_does_not_describe_is_refused(tiny_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(
        tiny_run, run, ignore=shutil.ignore_patterns("outputs", "checkpoints", "weights")
    )
    model = run / "models" / "t16.tflite"
    check_model_file(model.read_bytes(), model)
    model.write_bytes(flipped(model.read_bytes()))
    with pytest.raises(ArtifactError, match="not its card's"):
        check_model_file(model.read_bytes(), model)
    assert main(["evaluate", "--run", str(run)]) == 2
    assert main(["benchmark", str(model), "--no-qemu", "--runs", "1"]) == 2
    cut = tmp_path / "cut.tflite"  # no card, no deployment: flash's own check refuses it
    cut.write_bytes((tiny_run / "models" / "t16.tflite").read_bytes()[:1000])
    assert main(["flash", str(cut), "--board", "udp://127.0.0.1:9", "--insecure"]) == 2
