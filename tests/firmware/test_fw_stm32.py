"""STM32F405 firmware (its own registers: RCC, USART1 with an RX interrupt ring, SysTick, the
flash interface) unmodified in QEMU 7.2 ``netduinoplus2``: HELLO, INFER -> RESULT bit-identical
to the host C engine, HEARTBEAT, over the project's protocol.

QEMU 7.2 models neither the STM32F4 RCC nor the flash interface (both are unimplemented devices;
the flash is a ROM). So the model slot is a preloaded image: the storage file of a
``host-stm32f4`` board (the same layout, written by ``vp-edge flash`` through the same flash
driver on a simulated interface) goes into QEMU's ROM at start. A LOAD inside QEMU fails its
read-back and the board says so (LOAD_FLASH_ERROR) and keeps serving; the flash driver's register
sequence is checked in test_f4_flash.py and its fault behaviour in test_fw_host.py."""

from __future__ import annotations

import pytest
from fw_helpers import BOARD_ID, KEY, assert_serves, cli_flash

from firmware_bridge.firmware import qemu
from firmware_bridge.firmware.targets import get_target
from firmware_bridge.protocol import Heartbeat, MsgType, Probe
from firmware_bridge.protocol.session import BoardSession

SLOW = ("--timeout", "1.0", "--retries", "5")


@pytest.fixture(scope="module")
def f405_elf():
    if missing := qemu.missing_tools("stm32f405") + qemu.missing_tools("host-stm32f4"):
        pytest.skip(
            f"the STM32F405 QEMU test needs {', '.join(missing)} "
            "(scripts/setup.d/20-toolchains.sh installs them)"
        )
    return qemu.build("stm32f405")


@pytest.fixture(scope="module")
def f405_flash(f405_elf, models, epoch_file, tmp_path_factory):
    """Flash image of an STM32F405 serving ``old``, written by a LOAD session through the F4
    flash driver (host-stm32f4 has the STM32F405 storage layout)."""
    host, part = get_target("host-stm32f4"), get_target("stm32f405")
    assert (host.storage, host.slots_off, host.slot_size, host.record) == (
        part.storage,
        part.slots_off,
        part.slot_size,
        part.record,
    )
    tmp = tmp_path_factory.mktemp("f405")
    with qemu.start_host(tmp / "flash.bin", board_id=BOARD_ID, key=KEY, target="host-stm32f4") as b:
        rc, rep = cli_flash(tmp, b.url, models["old"], epoch_file)
        assert rc == 0 and rep["verified"]
    return tmp / "flash.bin"


def test_f405_in_qemu_serves_bit_identical_with_heartbeats(
    f405_elf, f405_flash, models, epoch_file
) -> None:
    with qemu.start_qemu(
        f405_flash, board_id=BOARD_ID, key=KEY, elf=f405_elf, target="stm32f405"
    ) as b:
        assert_serves(b.url, models["old"], epoch_file, n=6)
        with BoardSession(
            b.url, board_id=BOARD_ID, key=KEY, epoch_file=epoch_file, timeout=1.0
        ) as s:
            hb = s.request(Probe(MsgType.HEARTBEAT), (Heartbeat,)).msg
            assert isinstance(hb, Heartbeat) and hb.rx_ok >= 1 and hb.inferences >= 6
            beat = s.wait(0, (Heartbeat,), 8.0)  # unsolicited, every 5 s of the board's time
            assert beat is not None and beat.msg.uptime_s >= 5


def test_f405_in_qemu_load_fails_readback_and_keeps_serving(
    f405_elf, f405_flash, models, epoch_file, tmp_path
) -> None:
    """QEMU's STM32F405 flash is a ROM with no flash interface: writes change nothing, the
    driver's read-back says so (LOAD_FLASH_ERROR, exit 3) and the preloaded model serves on."""
    storage = tmp_path / "flash.bin"
    storage.write_bytes(f405_flash.read_bytes())
    with qemu.start_qemu(
        storage, board_id=BOARD_ID, key=KEY, elf=f405_elf, target="stm32f405"
    ) as b:
        rc, _ = cli_flash(tmp_path, b.url, models["new"], epoch_file, *SLOW)
        assert rc == 3
        assert_serves(b.url, models["old"], epoch_file, n=2)
