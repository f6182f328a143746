"""Build the board firmware for a target of ``targets.TARGETS`` and report its size.

``build("stm32f405")`` writes ``build/firmware/stm32f405/{memory.ld, vp_fw.elf, vp_fw.bin,
vp_fw.map}``; ``size_report`` says how much flash and RAM the image takes against the part.
The ``make`` rules are in ``firmware_bridge/firmware/c/Makefile``; every number they need comes
from the target table, passed as variables.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..errors import BridgeError
from .targets import Target, get_target

ROOT = Path(__file__).resolve().parents[2]
FW_DIR = Path(__file__).resolve().parent / "c"
BUILD_DIR = ROOT / "build" / "firmware"
ARM_TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-objcopy", "arm-none-eabi-size")


class FirmwareError(BridgeError):
    """The firmware could not be built or started (a tool is missing, a build failed)."""


def missing_tools(target: str, *, run: bool = True) -> list[str]:
    """Executables building (and, with ``run``, emulating) ``target`` needs that are absent."""
    t = get_target(target)
    tools = ["make", "cc"] if t.kind == "host" else ["make", *ARM_TOOLS]
    if run and t.qemu_machine:
        tools.append("qemu-system-arm")
    return [x for x in tools if shutil.which(x) is None]


def output_dir(target: str, build_dir: Path | None = None) -> Path:
    t = get_target(target)
    sub = "host" if t.name == "host" else t.name
    return Path(build_dir or BUILD_DIR) / sub


def elf_path(target: str, build_dir: Path | None = None) -> Path:
    return output_dir(target, build_dir) / get_target(target).elf_name


def _make_args(t: Target, out: Path) -> list[str]:
    if t.name == "host":  # the historical rule, whose layout is fw.h's default
        return ["host"]
    args = [
        f"TARGET={t.name}",
        f"TARGET_SRCS={' '.join(t.sources)}",
        f"TARGET_DEFS={' '.join(t.make_defs())}",
    ]
    if t.kind == "host":
        return ["host-target", *args]
    out.mkdir(parents=True, exist_ok=True)
    ld = out / "memory.ld"
    text = t.memory_ld()
    if not ld.exists() or ld.read_text() != text:  # rewrite only on change: make sees the date
        ld.write_text(text)
    return ["arm-target", *args, f"CPU={t.core}"]


def build(target: str = "host", *, build_dir: Path | None = None, defs: str = "") -> Path:
    """``make`` the firmware for ``target``; returns the executable or ELF path."""
    t = get_target(target)
    if missing := missing_tools(t.name, run=False):
        raise FirmwareError(
            f"building the {t.name} firmware needs {', '.join(missing)} "
            "(run 'make setup' or scripts/setup.d/20-toolchains.sh)"
        )
    base = Path(build_dir or BUILD_DIR)
    out = output_dir(t.name, base)
    cmd = ["make", "-s", "-C", str(FW_DIR), *_make_args(t, out), f"BUILD={base}", f"FW_DEFS={defs}"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise FirmwareError(f"firmware build for {t.name} failed:\n{(r.stdout + r.stderr)[-3000:]}")
    return elf_path(t.name, base)


def _sections(elf: Path, host: bool) -> dict[str, int]:
    tool = "size" if host else "arm-none-eabi-size"
    out = subprocess.run([tool, "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    sec: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sec[parts[0]] = int(parts[1])
    return sec


def size_report(target: str, elf: Path | None = None) -> dict:
    """Flash and RAM the image uses, against the part (bytes; ``*_free`` may be negative)."""
    t = get_target(target)
    elf = Path(elf or elf_path(t.name))
    sec = _sections(elf, t.kind == "host")
    rep: dict = {"target": t.name, "core": t.core, "elf": str(elf), "sections": sec}
    if t.kind == "host":
        rep.update(flash=None, ram=None, note="host process: no part to fit")
        return rep
    assert t.boot and t.code and t.ram and t.storage and t.flash
    flash = sum(sec.get(s, 0) for s in (".vectors", ".text", ".ARM.exidx", ".data"))
    static = sec.get(".data", 0) + sec.get(".bss", 0)
    fw_region = t.boot.size + t.code.size
    rep.update(
        flash={
            "used": flash,
            "firmware_region": fw_region,
            "free": fw_region - flash,
            "part": t.flash.size,
            "storage": t.storage.size,
            "model_slot": t.slot_size,
        },
        ram={
            "static": static,
            "stack": t.stack,
            "used": static + t.stack,
            "part": t.ram.size,
            "free": t.ram.size - static - t.stack,
            "arena": t.arena,
            "input_max": t.input_max,
        },
    )
    return rep


def size_line(rep: dict) -> str:
    """One line of a size report, for people."""
    if rep["flash"] is None:
        text = sum(v for k, v in rep["sections"].items() if k in (".text", ".rodata", ".data"))
        return f"{rep['target']:<17} host process, {text:,} B of code and data"
    f, r = rep["flash"], rep["ram"]
    kb = 1024
    return (
        f"{rep['target']:<17} {rep['core']:<10} flash {f['used']:>7,} B of "
        f"{f['firmware_region']:,} B firmware region ({f['part'] // kb} KB part, 2 x "
        f"{f['model_slot'] // kb} KB model slots)  RAM {r['used']:>7,} B of {r['part']:,} B "
        f"(arena {r['arena'] // kb} KB, stack {r['stack'] // kb} KB)"
    )
