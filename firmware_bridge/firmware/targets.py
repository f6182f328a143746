"""Firmware targets as data: the one place that knows each part's memory map, clock and UART.

Every build of the board firmware is described here (pyOCD's target info in spirit): the core,
where the vectors and the code go, the RAM, the storage region with its record spacing and A/B
model slots, the clock, the UART and the QEMU machine that emulates it. ``build`` (in
``build.py``) turns one entry into ``make`` variables and a generated ``memory.ld`` (the MEMORY
block and storage symbols that ``c/target/cortexm.ld`` includes), so the C code, the linker
script, the host tools and the size report all read the same numbers.

Storage layout inside the region (fw.h): provisioning record at 0, metadata copies A and B at
``record`` and ``2 * record``, slot 0 at ``slots_off``, slot 1 at ``slots_off + slot_size``. On an
STM32F4 the records sit in 16 KB sectors 1-3 and the slots in 128 KB sectors, so every record and
slot is erased without touching anything else (RM0090 / RM0390 section 3.3, flash organisation).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import BridgeError

KB = 1024


class TargetError(BridgeError):
    """Unknown firmware target (the message lists the known ones)."""

    exit_code = 2


@dataclass(frozen=True)
class Region:
    origin: int
    size: int

    @property
    def end(self) -> int:
        return self.origin + self.size


@dataclass(frozen=True)
class Target:
    """One firmware build: a part (or a QEMU machine) and how the firmware sits on it."""

    name: str
    description: str
    core: str  # -mcpu value, or "host"
    kind: str  # "host" (POSIX), "mps2" (QEMU FPGA images, semihosted storage), "stm32f4"
    sources: tuple[str, ...]  # target C files, relative to firmware_bridge/firmware/c
    clock_hz: int  # CPU clock the firmware runs at (SysTick counts it)
    uart: str  # which UART carries the protocol, in words
    flash: Region | None = None  # the part's whole flash
    boot: Region | None = None  # vector table (and nothing else on STM32F4: sector 0)
    code: Region | None = None  # the rest of the firmware
    ram: Region | None = None
    storage: Region | None = None  # provisioning + metadata records + model slots
    record: int = 4 * KB  # spacing of the three records (one erase unit each)
    slots_off: int = 16 * KB  # slot 0, from the storage origin
    slot_size: int = 0
    sectors: tuple[tuple[int, int], ...] = ()  # (address, size) of every erase sector
    arena: int = 128 * KB  # engine scratch (FW_ARENA_SIZE)
    input_max: int = 32 * KB  # largest INFER tensor (FW_INPUT_MAX)
    stack: int = 8 * KB
    qemu_machine: str | None = None
    qemu_flash_controller: bool = False  # does QEMU model the storage writes?
    defines: dict[str, int] = field(default_factory=dict)  # target-specific -D (UART base...)

    @property
    def elf_name(self) -> str:
        return "vp_fw_host" if self.kind == "host" else "vp_fw.elf"

    def make_defs(self) -> list[str]:
        """The ``-D`` options that put this layout into fw.h."""
        defs = {
            "FW_ARENA_SIZE": self.arena,
            "FW_INPUT_MAX": self.input_max,
            "FW_SYSCLK_HZ": self.clock_hz,
            **self.defines,
        }
        if self.storage:
            defs.update(
                FW_STORAGE_SIZE=self.storage.size,
                FW_SECTOR=self.record,
                FW_SLOTS_OFF=self.slots_off,
                FW_SLOT_SIZE=self.slot_size,
                FW_STORAGE_BASE=self.storage.origin,
            )
        return [f"-D{k}={v:#x}u" if k != "FW_SYSCLK_HZ" else f"-D{k}={v}u" for k, v in defs.items()]

    def memory_ld(self) -> str:
        """The MEMORY block and symbols for ``target/cortexm.ld``."""
        assert self.boot and self.code and self.ram and self.storage
        return (
            f"/* generated from firmware_bridge/firmware/targets.py: {self.name} */\n"
            "MEMORY\n{\n"
            f"  BOOT  (rx)  : ORIGIN = {self.boot.origin:#010x}, LENGTH = {self.boot.size:#x}\n"
            f"  FLASH (rx)  : ORIGIN = {self.code.origin:#010x}, LENGTH = {self.code.size:#x}\n"
            f"  RAM   (rwx) : ORIGIN = {self.ram.origin:#010x}, LENGTH = {self.ram.size:#x}\n"
            "}\n"
            f"__storage_start = {self.storage.origin:#010x};\n"
            f"__storage_end = {self.storage.end:#010x};\n"
            f"__records_end = {self.storage.origin + 3 * self.record:#010x};\n"
            f"__slots_start = {self.storage.origin + self.slots_off:#010x};\n"
            f"__stack_size = {self.stack:#x};\n"
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["slots"] = (
            [self.storage.origin + self.slots_off + i * self.slot_size for i in (0, 1)]
            if self.storage
            else []
        )
        return d


def _f4_sectors(flash_kb: int) -> tuple[tuple[int, int], ...]:
    """RM0090 table 5 / RM0390 table 4: 4 x 16 KB, 1 x 64 KB, then 128 KB sectors."""
    sizes = [16 * KB] * 4 + [64 * KB] + [128 * KB] * ((flash_kb - 128) // 128)
    out, at = [], 0x08000000
    for s in sizes:
        out.append((at, s))
        at += s
    return tuple(out)


def _stm32f4(
    name: str,
    description: str,
    flash_kb: int,
    slot_size: int,
    clock_hz: int,
    uart: str,
    defines: dict[str, int],
    qemu: str | None = None,
) -> Target:
    """STM32F4 layout: vectors in sector 0, records in sectors 1-3, code in sector 4,
    model slots from sector 5 (each a whole number of 128 KB sectors)."""
    return Target(
        name,
        description,
        "cortex-m4",
        "stm32f4",
        ("target/stm32f4/target_stm32f4.c", "target/stm32f4/flash_f4.c"),
        clock_hz,
        uart,
        flash=Region(0x08000000, flash_kb * KB),
        boot=Region(0x08000000, 16 * KB),
        code=Region(0x08010000, 64 * KB),
        ram=Region(0x20000000, 128 * KB),
        storage=Region(0x08004000, 0x1C000 + 2 * slot_size),
        record=16 * KB,
        slots_off=0x1C000,
        slot_size=slot_size,
        sectors=_f4_sectors(flash_kb),
        arena=88 * KB,
        input_max=12 * KB,
        qemu_machine=qemu,
        defines=defines,
    )


#: model storage of the mps2 and host targets: 1 MB flash minus a 128 KB firmware region,
#: and each of its two model slots (what is left after the 16 KB of records, 4 KB aligned)
MPS2_STORAGE = 0xE0000
MPS2_SLOT = ((MPS2_STORAGE - 16 * KB) // 2) & ~0xFFF


def _mps2(
    name: str,
    description: str,
    core: str,
    qemu: str,
    clock_hz: int,
    code: int,
    ram: int,
    uart_base: int,
) -> Target:
    """QEMU FPGA images: SSRAM stands in for a 1 MB flash (128 KB firmware + 896 KB storage,
    written through to a host file by semihosting), 256 KB of RAM like the cortex-m4 profile.
    The firmware uses about 25 KB; 440 KB slots take the fashion preset's alpha 0.4 members
    (about 441,700 B each as .vpw)."""
    return Target(
        name,
        description,
        core,
        "mps2",
        ("target/qemu/target_qemu.c",),
        clock_hz,
        f"CMSDK UART0 at {uart_base:#x} (QEMU -serial)",
        flash=Region(code, 1024 * KB),
        boot=Region(code, 1 * KB),
        code=Region(code + 1 * KB, 127 * KB),
        ram=Region(ram, 256 * KB),
        storage=Region(code + 128 * KB, MPS2_STORAGE),
        slot_size=MPS2_SLOT,
        qemu_machine=qemu,
        qemu_flash_controller=True,
        defines={"FW_UART_BASE": uart_base},
    )


TARGETS: dict[str, Target] = {t.name: t for t in (
    _stm32f4("stm32f405", "STM32F405 (Cortex-M4F, 1 MB flash, 128 KB SRAM used; QEMU "
             "netduinoplus2), USART1 PA9/PA10", 1024, 384 * KB, 168_000_000,
             "USART1 PA9 TX / PA10 RX (AF7), 115200 8N1, RX interrupt + ring buffer",
             {"F4_USART": 1, "F4_PLLM": 8, "F4_PLLN": 168, "F4_PLLP": 2, "F4_PLLQ": 7,
              "F4_OVERDRIVE": 0, "F4_FLASH_WS": 5}, qemu="netduinoplus2"),
    _stm32f4("stm32f446-nucleo", "NUCLEO-F446RE (STM32F446RE, Cortex-M4F, 512 KB flash, "
             "128 KB SRAM), USART2 on the ST-LINK virtual COM port", 512, 128 * KB, 180_000_000,
             "USART2 PA2 TX / PA3 RX (AF7) = ST-LINK VCP, 115200 8N1, RX interrupt + ring buffer",
             {"F4_USART": 2, "F4_PLLM": 8, "F4_PLLN": 180, "F4_PLLP": 2, "F4_PLLQ": 2,
              "F4_OVERDRIVE": 1, "F4_FLASH_WS": 5}),
    _mps2("mps2-an386", "Cortex-M4 on QEMU mps2-an386 (Arm FPGA image)", "cortex-m4",
          "mps2-an386", 25_000_000, 0x0, 0x20000000, 0x40004000),
    _mps2("mps2-an500", "Cortex-M7 on QEMU mps2-an500 (Arm FPGA image)", "cortex-m7",
          "mps2-an500", 25_000_000, 0x0, 0x20000000, 0x40004000),
    _mps2("mps2-an505", "Cortex-M33 on QEMU mps2-an505 (IoT kit, TrustZone; runs Secure)",
          "cortex-m33", "mps2-an505", 20_000_000, 0x10000000, 0x38000000, 0x50200000),
    Target("host", "POSIX process: a pty for the UART, a file for the flash", "host", "host",
           ("target/host/target_host.c",), 1_000_000, "pseudo-terminal (or stdin/stdout)",
           storage=Region(0, MPS2_STORAGE), slot_size=MPS2_SLOT),
    Target("host-stm32f4", "POSIX process storing through the STM32F4 flash driver on a "
           "simulated flash interface (the STM32F405 layout): the fault tests' flash path",
           "host", "host", ("target/host/target_host.c", "target/stm32f4/flash_f4.c",
                            "target/host/f4_flash_sim.c"), 1_000_000,
           "pseudo-terminal (or stdin/stdout)", storage=Region(0x08004000, 0x1C000 + 0xC0000),
           record=16 * KB, slots_off=0x1C000, slot_size=384 * KB,
           sectors=_f4_sectors(1024), defines={"FW_HOST_F4": 1}),
)}  # fmt: skip

ALIASES = {"qemu": "mps2-an386"}


def get_target(name: str) -> Target:
    """The named target (``qemu`` is the historical name of ``mps2-an386``)."""
    try:
        return TARGETS[ALIASES.get(name, name)]
    except KeyError:
        raise TargetError(
            f"unknown firmware target {name!r}; known: {', '.join(TARGETS)}"
        ) from None
