"""The STM32F405 firmware (netduinoplus2) as the qemu board of a live deployment: the gateway
that votes the linux and mcu boards also votes its RESULTs, each equal to the C engine's
offline top-k, and the voted answers equal the offline vote.

Slow: one live demo on the session's tiny converted run (tests/conftest.py ``tiny_run``). QEMU
has no STM32F4 flash interface, so the emulator writes the variant through the same flash
driver on a host-stm32f4 board first and QEMU boots with that flash (docs/firmware.md)."""

from __future__ import annotations

import pytest

IMAGES = 8


@pytest.mark.slow
def test_f405_board_votes_like_offline(tiny_run, tmp_path) -> None:
    from experiments.live import live_table, run_live_demo
    from firmware_bridge.firmware.build import missing_tools

    if missing := missing_tools("stm32f405") + missing_tools("host-stm32f4"):
        pytest.skip(f"needs {', '.join(missing)} (scripts/setup.d/20-toolchains.sh)")
    s = run_live_demo(tiny_run, IMAGES, tmp_path, False, kinds=("qemu",), qemu_profile="stm32f405")
    print("\n" + live_table(s))
    assert "qemu" in s["kinds"]["ran"], s["kinds"]
    assert s["equal"]
    alive = s["runs"]["all_alive"]
    assert alive["board_checks"]["qemu"]["differing"] == 0
    assert alive["board_checks"]["qemu"]["checked"] >= IMAGES - 1
    (q,) = s["qemu"].values()
    ins = q["instructions"]  # exact to the timer's 1 us tick; the kernels' few value-dependent
    # branches move it by well under 1 % between inputs
    assert q["target"] == "stm32f405" and ins["max"] - ins["min"] <= max(1000, ins["min"] // 200)
    assert q["elf"]["flash"] <= q["elf"]["flash_budget"]
