"""The firmware target table: layouts that are safe to erase, one build per target with a size
report against the part, and the board profiles pointing at their targets."""

from __future__ import annotations

import re

import pytest

from firmware_bridge.firmware import build as fwbuild
from firmware_bridge.firmware.targets import TARGETS, TargetError, get_target


def _sector_span(t, lo: int, hi: int) -> set[int]:
    return {i for i, (a, n) in enumerate(t.sectors) if a < hi and lo < a + n}


@pytest.mark.parametrize("name", [n for n, t in TARGETS.items() if t.sectors])
def test_records_and_slots_each_own_their_sectors(name: str) -> None:
    """Erasing one record or one slot (whole sectors) never touches another or the code."""
    t = get_target(name)
    base = t.storage.origin
    areas = {f"record{i}": (base + i * t.record, base + (i + 1) * t.record) for i in range(3)}
    areas |= {
        f"slot{i}": (
            base + t.slots_off + i * t.slot_size,
            base + t.slots_off + (i + 1) * t.slot_size,
        )
        for i in range(2)
    }
    used: dict[int, str] = {}
    for what, (lo, hi) in areas.items():
        for s in _sector_span(t, lo, hi):
            a, n = t.sectors[s]
            assert lo <= a and a + n <= hi, f"{what} shares sector {s}"
            assert s not in used, f"{what} and {used[s]} share sector {s}"
            used[s] = what
    if t.code:  # the code and vectors are in sectors no record or slot uses
        assert not _sector_span(t, t.code.origin, t.code.end) & used.keys()
        assert not _sector_span(t, t.boot.origin, t.boot.end) & used.keys()
        assert areas["slot1"][1] <= t.flash.end


def test_qemu_ld_matches_the_table() -> None:
    """`make qemu` keeps its own linker script for the Cortex-M4 engine work: same numbers."""
    text = (fwbuild.FW_DIR / "target" / "qemu" / "qemu.ld").read_text()
    t = get_target("mps2-an386")
    ram = re.search(r"RAM.*ORIGIN = (0x[0-9A-Fa-f]+), LENGTH = (\d+)K", text)
    assert int(ram.group(1), 16) == t.ram.origin and int(ram.group(2)) * 1024 == t.ram.size
    store = int(re.search(r"__storage_start = (0x[0-9A-Fa-f]+)", text).group(1), 16)
    assert store == t.storage.origin and get_target("qemu") is t


def test_unknown_target_lists_known() -> None:
    with pytest.raises(TargetError, match="stm32f405.*mps2-an505"):
        get_target("stm32h7")


@pytest.mark.parametrize("name", list(TARGETS))
def test_build_and_size_report(name: str) -> None:
    if missing := fwbuild.missing_tools(name, run=False):
        pytest.skip(f"building {name} needs {', '.join(missing)}")
    elf = fwbuild.build(name)
    rep = fwbuild.size_report(name, elf)
    print(fwbuild.size_line(rep))
    if rep["flash"] is None:
        return
    assert 0 < rep["flash"]["used"] <= rep["flash"]["firmware_region"]
    assert rep["ram"]["used"] <= rep["ram"]["part"]
    assert elf.with_suffix(".bin").stat().st_size >= rep["flash"]["used"]


def test_profiles_point_at_targets() -> None:
    from boards.profiles import PROFILES

    pointed = {p.firmware_target for p in PROFILES.values() if p.firmware_target}
    assert {"stm32f405", "stm32f446-nucleo", "mps2-an386", "mps2-an500", "mps2-an505"} <= pointed
    for t in pointed:
        get_target(t)
