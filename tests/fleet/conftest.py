"""A real Mosquitto for the fleet tests (skipped, saying why, when the binary is missing)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "boards"))


@pytest.fixture
def broker(tmp_path: Path):
    pytest.importorskip("paho.mqtt.client", reason="paho-mqtt not installed (the fleet extra)")
    from vp_edge.gateway.broker import Broker, missing_reason

    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()
