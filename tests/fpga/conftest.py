"""Skips, saying why, when the overlay's tools are missing (the ``fpga`` extra, Verilator)."""

from __future__ import annotations

import importlib.util
import shutil

import pytest


def need_amaranth() -> None:
    if importlib.util.find_spec("amaranth") is None:
        pytest.skip('Amaranth HDL is not installed (pip install "vp-edge[fpga]")')


def need_verilator() -> None:
    need_amaranth()
    if shutil.which("verilator") is None:
        pytest.skip("verilator is not installed (apt-get install verilator: scripts/setup.d)")
