"""Which fabric an emulated PYNQ board runs: the overlay's RTL where its simulator builds and the
overlay takes the model, the C engine otherwise (saying why) or when VP_PYNQ_FABRIC=engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import need_verilator

from boards.emulators import pynq_fabric
from boards.errors import BoardError
from fpga.errors import UnsupportedLayer

TINY = (Path(__file__).resolve().parents[1] / "pynq" / "data" / "tiny.vpw").read_bytes()


def test_asked_fabric(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VP_PYNQ_FABRIC", "engine")
    assert pynq_fabric(TINY) == ("engine", "VP_PYNQ_FABRIC=engine")
    monkeypatch.setenv("VP_PYNQ_FABRIC", "fpga")
    with pytest.raises(BoardError, match="known fabrics are engine and rtl"):
        pynq_fabric(TINY)


def test_rtl_where_it_builds_and_the_overlay_takes_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    need_verilator()
    monkeypatch.delenv("VP_PYNQ_FABRIC", raising=False)
    fabric, why = pynq_fabric(TINY)
    assert fabric == "rtl" and "libvpsim-" in why

    def refuse(model: bytes) -> None:
        raise UnsupportedLayer(1, "MAX_POOL_2D", "no MAX_POOL_2D unit")

    monkeypatch.setattr("fpga.program.read_program", refuse)
    fabric, why = pynq_fabric(TINY)
    assert fabric == "engine" and "layer 1 (MAX_POOL_2D)" in why
    monkeypatch.setenv("VP_PYNQ_FABRIC", "rtl")
    with pytest.raises(BoardError, match="the overlay refuses it"):
        pynq_fabric(TINY)
