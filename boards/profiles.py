"""Board profiles as data (like pyOCD's board info): memory, clock and link of each target.

The fit check refuses a variant whose tflite-micro arena exceeds the RAM left for it or whose
model exceeds the flash left for it, with the numbers, before anything is started.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from boards.errors import BoardError

KB = 1024
MB = 1024 * KB


@dataclass(frozen=True)
class Profile:
    """Facts about one board model. ``reserve_*``: what firmware/OS keep for themselves."""

    name: str
    description: str
    kind: str  # default board kind ("mcu", "linux", "pynq")
    ram_bytes: int
    flash_bytes: int
    clock_hz: int
    link: str  # "uart", "ethernet", "wifi"
    baud: int | None  # serial baud rate (None: not a serial link)
    reserve_ram: int = 0
    reserve_flash: int = 0
    firmware_target: str | None = None  # firmware_bridge.firmware.targets entry that runs on it

    @property
    def arena_limit(self) -> int:
        """Bytes of RAM a model's tensor arena may use."""
        return self.ram_bytes - self.reserve_ram

    @property
    def model_limit(self) -> int:
        """Bytes of flash (or storage) a model may use."""
        return self.flash_bytes - self.reserve_flash

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(arena_limit=self.arena_limit, model_limit=self.model_limit)
        return d


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("cortex-m4", "Cortex-M4F, 256 KB SRAM, 1 MB flash (e.g. STM32F4/nRF52840 class)",
                "mcu", 256 * KB, 1 * MB, 80_000_000, "uart", 115200, 32 * KB, 128 * KB,
                "mps2-an386"),
        # Real parts: RAM left for the arena and flash left for one model slot as the firmware
        # target lays them out (firmware_bridge/firmware/targets.py: 88 KB arena, 384 / 128 KB
        # slots).
        Profile("stm32f405", "STM32F405 (Cortex-M4F 168 MHz, 1 MB flash, 128 KB SRAM used), "
                "USART1; QEMU netduinoplus2", "mcu", 128 * KB, 1 * MB, 168_000_000, "uart",
                115200, 40 * KB, 640 * KB, "stm32f405"),
        Profile("nucleo-f446re", "NUCLEO-F446RE (STM32F446RE, Cortex-M4F 180 MHz, 512 KB flash, "
                "128 KB SRAM), ST-LINK virtual COM port", "mcu", 128 * KB, 512 * KB,
                180_000_000, "uart", 115200, 40 * KB, 384 * KB, "stm32f446-nucleo"),
        Profile("cortex-m7", "Cortex-M7, 256 KB SRAM, 1 MB flash (QEMU mps2-an500)", "mcu",
                256 * KB, 1 * MB, 216_000_000, "uart", 115200, 32 * KB, 128 * KB, "mps2-an500"),
        Profile("cortex-m33", "Cortex-M33 (TrustZone, Secure), 256 KB SRAM, 1 MB flash (QEMU "
                "mps2-an505)", "mcu", 256 * KB, 1 * MB, 100_000_000, "uart", 115200, 32 * KB,
                128 * KB, "mps2-an505"),
        Profile("esp32-s3", "ESP32-S3, 512 KB SRAM, 8 MB flash, UART bridge", "mcu",
                512 * KB, 8 * MB, 240_000_000, "uart", 921600, 96 * KB, 1 * MB),
        Profile("rp2040", "Raspberry Pi RP2040, 264 KB SRAM, 2 MB flash", "mcu",
                264 * KB, 2 * MB, 133_000_000, "uart", 115200, 40 * KB, 256 * KB),
        Profile("raspberry-pi-4", "Raspberry Pi 4 Model B, 4 GB, Linux, Ethernet", "linux",
                4096 * MB, 32768 * MB, 1_500_000_000, "ethernet", None, 1024 * MB, 8192 * MB),
        Profile("pynq-z2", "PYNQ-Z2 (Zynq-7020), 512 MB DDR, Linux, Ethernet", "pynq",
                512 * MB, 16384 * MB, 650_000_000, "ethernet", None, 256 * MB, 4096 * MB),
    )
}  # fmt: skip


def get_profile(name: str) -> Profile:
    """The named profile, or an error listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise BoardError(f"unknown board profile {name!r}; known: {', '.join(PROFILES)}") from None


def check_fit(profile: Profile, variant: str, arena_bytes: int | None, model_bytes: int) -> None:
    """Refuse a variant that does not fit the board, naming both numbers."""
    if arena_bytes is not None and arena_bytes > profile.arena_limit:
        raise BoardError(
            f"variant {variant} does not fit {profile.name}: its arena needs {arena_bytes:,} bytes "
            f"but {profile.name} has {profile.arena_limit:,} bytes of RAM for it "
            f"({profile.ram_bytes:,} - {profile.reserve_ram:,} reserved); pick a bigger profile"
        )
    if model_bytes > profile.model_limit:
        raise BoardError(
            f"variant {variant} does not fit {profile.name}: the model is {model_bytes:,} bytes "
            f"but {profile.name} has {profile.model_limit:,} bytes of flash for it "
            f"({profile.flash_bytes:,} - {profile.reserve_flash:,} reserved); pick a bigger profile"
        )
