"""The simulated PYNQ-Z2's ``vp_top`` when the overlay is the RTL one (fpga/): its own register
map (fpga/rtl_ports.py) in front of the Verilated core, whose AXI master reads and writes the
simulated DDR, the device-side bytes of the buffer the host allocated (so a missing ``flush``
gives a wrong answer, as on a board). ``boards.pynq_sim`` picks it for an IP whose .hwh lists
the RTL map; ``boards.pynq.PynqRunner`` drives it through ``fpga.host.OverlayHost``.
"""

from __future__ import annotations

from typing import Any

from boards.errors import BoardError
from fpga.rtl_ports import REGS


def is_rtl_map(registers: dict) -> bool:
    """Whether an IP's .hwh registers are the RTL overlay's (not the HLS engine's)."""
    return "N_LAYERS" in registers and "PROG_ADDR" in registers


class RtlTopModel:
    """Register reads and writes of one RTL ``vp_top``; ``ap_start`` runs the core to done."""

    def __init__(self, device: Any) -> None:
        self.device, self.runs = device, 0
        self.core: Any = None
        self.regs: dict[int, int] = {}

    def _core(self) -> Any:
        if self.core is None:
            from fpga.sim import VerilatedCore

            self.core = VerilatedCore()
        return self.core

    def _attach(self) -> None:
        """The master sees the allocation holding the program's address (the host's one
        buffer); an address outside it faults in the harness, as a board's would."""
        addr = self.regs.get(REGS["PROG_ADDR"], 0)
        for a in self.device._allocs.values():
            if a.phys <= addr < a.phys + a.ddr.size:
                self._core().attach(a.ddr, a.phys)
                return
        raise BoardError(f"vp_top's AXI master was given 0x{addr:08X}, which no buffer covers")

    def write(self, off: int, value: int) -> None:
        self.regs[off] = value
        start = off == REGS["CTRL"] and value & 1
        if start:
            self._attach()
        self._core().write(off, value)
        if start:
            cycles = self._core().read(REGS["CYCLES"])
            self.device.fabric_us = cycles / self._core().cfg.clock_mhz
            self.runs += int(self.regs.get(REGS["N_LAYERS"], 0) != 0)

    def read(self, off: int) -> int:
        return int(self._core().read(off))
