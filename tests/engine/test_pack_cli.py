"""``vp-edge pack`` end to end: file written, summary printed, --verify reports 0 differences."""

from __future__ import annotations

import json

import pytest

from vp_edge.cli import main

pytestmark = [pytest.mark.tf, pytest.mark.slow]


def test_pack_writes_vpw_and_verifies(load, tmp_path, capsys) -> None:
    src = tmp_path / "m.tflite"
    src.write_bytes(load("residual:1"))
    out = tmp_path / "m.vpw"
    rc = main(["pack", str(src), "-o", str(out), "--golden-from-random-seed", "1",
               "--verify", "20", "--json"])  # fmt: skip
    assert rc == 0 and out.exists()
    s = json.loads(capsys.readouterr().out)
    assert s["golden"] and s["verify"]["differing"] == 0 and s["verify"]["values"] == 200
    assert s["total_size"] == out.stat().st_size


def test_pack_refuses_garbage(tmp_path) -> None:
    src = tmp_path / "bad.tflite"
    src.write_bytes(b"not a model")
    assert main(["pack", str(src), "-o", str(tmp_path / "x.vpw")]) == 2
