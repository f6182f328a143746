"""``vp-edge firmware provision``'s checks and record, at the library level (no probe run)."""

from __future__ import annotations

from pathlib import Path

import pytest

import firmware_bridge.firmware.load as fw_load
from firmware_bridge.firmware.load import LoadReport
from firmware_bridge.protocol.keys import derive_board_key
from vp_edge.flash_run import provision_board
from vp_edge.flashing import FlashUsageError


def test_exactly_one_of_key_file_or_insecure() -> None:
    for key_file, insecure in ((None, False), ("k", True)):
        with pytest.raises(FlashUsageError, match="exactly one of --key-file F or --insecure"):
            provision_board("stm32f405", "auto", 1, key_file, insecure)


def test_host_target_has_nothing_to_provision() -> None:
    with pytest.raises(FlashUsageError, match="target host has no on-chip storage"):
        provision_board("host", "auto", 1, None, True)


def test_record_holds_the_derived_key_not_the_master(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    master = bytes(range(32))
    (tmp_path / "key").write_text(master.hex())
    sent: dict = {}

    def fake_load(target: str, probe: str, raw: tuple[int, bytes]) -> LoadReport:
        sent.update(target=target, raw=raw)
        return LoadReport(target, "pyocd", "image", [(raw[0], len(raw[1]))])

    monkeypatch.setattr(fw_load, "load", fake_load)
    rep, at = provision_board("stm32f405", "auto", 7, str(tmp_path / "key"), False)
    assert (rep["board_id"], rep["keyed"], rep["probe"]) == (7, True, "pyocd")
    assert at == sent["raw"][0] == 0x08004000
    record = sent["raw"][1]
    assert derive_board_key(master, 7) in record and master not in record
