"""``vp-edge pack`` end to end: file written, summary printed, --verify reports 0 differences."""

from __future__ import annotations

import hashlib
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
    # one hash, one meaning: the file's, as flash, HELLO and the status page give it
    assert s["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest() != s["payload_sha256"]


def test_pack_refuses_garbage(tmp_path) -> None:
    src = tmp_path / "bad.tflite"
    src.write_bytes(b"not a model")
    assert main(["pack", str(src), "-o", str(tmp_path / "x.vpw")]) == 2


def test_pack_target_cortex_m4_and_old_files_refused(load, tmp_path, capsys) -> None:
    """--target picks the layout; a file of another version or target names how to repack."""
    import struct

    from converters.vpw_format import read_vpw
    from firmware_bridge.engine import Engine, EngineError
    from vp_edge.errors import ConversionError

    src = tmp_path / "m.tflite"
    src.write_bytes(load("residual:1"))
    out = tmp_path / "m.vpw"
    rc = main(["pack", str(src), "-o", str(out), "--target", "cortex-m4", "--verify", "10",
               "--json"])  # fmt: skip
    s = json.loads(capsys.readouterr().out)
    assert rc == 0 and s["target_name"] == "cortex-m4" and s["verify"]["differing"] == 0
    blob = bytearray(out.read_bytes())
    old = bytearray(blob)
    struct.pack_into("<I", old, 4, 2)  # a version-2 file
    with pytest.raises(ConversionError, match="vp-edge pack MODEL.tflite --target"):
        read_vpw(bytes(old))
    with pytest.raises(EngineError, match="unsupported version"):
        Engine(bytes(old))
    struct.pack_into("<i", blob, 152, 9)  # an unknown target
    with pytest.raises(EngineError, match="--target cortex-m4"):
        Engine(bytes(blob))


def test_flash_refuses_generic_layout_before_any_transfer(load) -> None:
    from converters.vpw import tflite_to_vpw
    from firmware_bridge.flash import FlashVerifyError, flash

    vpw = tflite_to_vpw(load("tiny:0"), target="generic")
    with pytest.raises(FlashVerifyError, match="--target cortex-m4"):
        flash("serial:///dev/nonexistent", vpw, board_id=1, key=b"k", epoch_file=None)
