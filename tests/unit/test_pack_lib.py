"""``vp-edge pack`` at the library level: the model check, the default output, the exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

import converters.vpw_writer as vpw_writer
from vp_edge.errors import UsageError
from vp_edge.pack_run import pack_exit_code, pack_model


def test_a_png_is_refused_before_packing(tmp_path: Path) -> None:
    png = tmp_path / "m.tflite"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    with pytest.raises(UsageError, match="MODEL"):
        pack_model(str(png))


def test_output_defaults_beside_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "m.tflite"
    model.write_bytes(b"\0\0\0\0TFL3" + bytes(32))  # the bytes read_model knows a .tflite by
    calls: list[tuple] = []
    monkeypatch.setattr(
        vpw_writer, "pack_file", lambda m, o, **kw: calls.append((m, o, kw)) or {"output": o}
    )
    assert pack_model(str(model))["output"] == str(tmp_path / "m.vpw")
    pack_model(str(model), "x.vpw", golden_seed=None, verify=5, target="cortex-m4")
    assert calls[1][1:] == (
        "x.vpw",
        {"golden_seed": None, "verify": 5, "stream_word_bits": 64, "target": "cortex-m4"},
    )


def test_exit_code_4_only_when_verify_found_differences() -> None:
    assert pack_exit_code({}) == 0
    assert pack_exit_code({"verify": {"differing": 0}}) == 0
    assert pack_exit_code({"verify": {"differing": 3}}) == 4
