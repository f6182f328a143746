"""Firmware fixtures: built firmware (host and QEMU), small golden-carrying .vpw models, boards.

Models come from the engine tests' cache (tests/engine/make_models.py, TensorFlow in a
subprocess, once per cache); the expected answers come from the C engine on the host.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fw_helpers import BOARD_ID, KEY, cached_tflite, to_vpw

from firmware_bridge.firmware import qemu
from firmware_bridge.firmware.qemu import FirmwareBoard


@pytest.fixture(scope="session")
def models(pytestconfig: pytest.Config) -> dict[str, bytes]:
    """``old`` (served before every fault) and ``new`` (the one a faulty flash tries)."""
    t = cached_tflite(pytestconfig, "resize:1", "convs:1")
    return {"old": to_vpw(t["resize:1"], 1), "new": to_vpw(t["convs:1"], 2)}


@pytest.fixture(scope="session", params=["host", "host-stm32f4"])
def host_target(request: pytest.FixtureRequest) -> str:
    """Every host test runs twice: on the plain file store, and through the STM32F4 flash
    driver on its simulated flash interface (the part's erase/program path)."""
    return request.param


@pytest.fixture(scope="session")
def host_elf(host_target: str) -> Path:
    if missing := qemu.missing_tools(host_target):
        pytest.skip(f"host firmware needs {', '.join(missing)}")
    return qemu.build(host_target)


@pytest.fixture(scope="session")
def qemu_elf() -> Path:
    if missing := qemu.missing_tools("qemu"):
        pytest.skip(
            f"QEMU firmware tests need {', '.join(missing)} "
            "(scripts/setup.d/20-toolchains.sh installs them)"
        )
    return qemu.build("qemu")


@pytest.fixture(scope="session")
def epoch_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gw") / "gateway.epoch"


@pytest.fixture
def start_host(host_elf: Path, host_target: str, tmp_path: Path) -> Iterator:
    """``start_host(storage=None, env=None)`` -> a running host-target board, stopped after."""
    boards: list[FirmwareBoard] = []

    def start(storage: Path | None = None, env: dict | None = None) -> FirmwareBoard:
        b = qemu.start_host(
            storage or tmp_path / "flash.bin",
            board_id=BOARD_ID,
            key=KEY,
            elf=host_elf,
            env=env,
            target=host_target,
        )
        boards.append(b)
        return b

    yield start
    for b in boards:
        b.stop()


@pytest.fixture(scope="session")
def old_flash(
    host_elf: Path,
    host_target: str,
    models: dict,
    epoch_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A host flash file whose board serves ``old`` (flashed once, copied by each test)."""
    from firmware_bridge.flash import flash

    path = tmp_path_factory.mktemp("baseline") / "flash.bin"
    with qemu.start_host(path, board_id=BOARD_ID, key=KEY, elf=host_elf, target=host_target) as b:
        flash(b.url, models["old"], board_id=BOARD_ID, key=KEY, epoch_file=epoch_file)
    return path


@pytest.fixture
def old_board(old_flash: Path, tmp_path: Path, start_host) -> Iterator:
    """``old_board(env=None)`` -> a host board serving ``old``, on this test's copy of the flash."""
    path = tmp_path / "flash.bin"
    shutil.copy(old_flash, path)
    return lambda env=None: start_host(path, env)
