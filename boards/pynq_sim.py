"""A simulated PYNQ-Z2 as a ``pynq.Device``: the real pynq API on top, the C engine as the fabric.

What is real: everything in ``pynq`` above the device. ``pynq.Overlay`` resolves the .bit, parses
the .hwh with PYNQ's own metadata parser, builds ``ip_dict``/``DefaultIP`` drivers, sets the PL
clock through ``pynq.ps.Clocks`` and downloads through ``Bitstream.download``; ``pynq.MMIO``
(``REGISTER_RW`` path), ``DefaultIP.read/write`` and ``register_map``; ``pynq.allocate``,
``PynqBuffer.flush/invalidate/physical_address``. ``parse_bit_header`` checks the .bit.

What is simulated (this module, the part a board provides in silicon and kernel drivers):
- DDR: each ``allocate`` gets a physical range and a *device-side* copy. Buffers are cacheable
  as on Zynq (pass ``cacheable=False`` for coherent ones): the CPU's view and DDR differ until
  ``flush`` (CPU -> DDR) or ``invalidate`` (DDR -> CPU), so a missing flush shows up as a wrong
  answer, as it would on the board.
- The PS7's SLCR clock registers (0xF800_0000): a register file with the PYNQ-Z2's reset values
  (50 MHz PS_CLK, 1000 MHz IO PLL, FCLK0 100 MHz), so ``Clocks`` reads and writes real fields.
- The vp_top IP at the address the .hwh gives it: the Vitis HLS ``ap_ctrl_hs`` register file of
  docs/vpw.md (offsets from the .hwh). Writing ``ap_start`` runs ``vp_engine_check`` and
  ``vp_engine_run`` (``firmware_bridge.engine``) on the .vpw/input bytes read from simulated DDR
  at the programmed addresses, writes the output bytes and ``status`` back, then raises
  ``ap_done`` (clear on read) after ``busy_reads`` polls. The engine keeps its scratch in host
  memory; the arena buffer is only checked (mapped, ``arena_len`` >= the model's arena size).
- Bus errors: an access to an address no IP or buffer covers raises ``SimBusError`` (a board
  would hang or fault). With ``fabric="rtl"`` the overlay's Verilated RTL (fpga/) runs instead
  of the engine and gives the run's time from its cycles. No timing otherwise, interrupts (ISR
  bits are kept, nothing is raised), AXI bursts or FPGA configuration: the .bit is never
  loaded, only its header is read.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pynq
from pynq.buffer import PynqBuffer
from pynq.pl_server.embedded_device import parse_bit_header

from boards.errors import BoardError
from boards.pynq_overlay import (
    AP_DONE,
    AP_IDLE,
    AP_READY,
    AP_START,
    AUTO_RESTART,
    DDR_BASE,
    DDR_SIZE,
    IP_NAME,
    PART,
    register_offsets,
)
from boards.pynq_rtl import RtlTopModel, is_rtl_map
from firmware_bridge.engine import Engine, EngineError

SLCR_BASE, SLCR_SIZE = 0xF800_0000, 0x200
#: PYNQ-Z2 reset values: PLL feedback dividers (x 50 MHz), clock controls (SRCSEL, DIV0, DIV1)
_SLCR_RESET = {
    0x100: 26 << 12,  # ARM PLL 1300 MHz
    0x104: 21 << 12,  # DDR PLL 1050 MHz
    0x108: 20 << 12,  # IO PLL 1000 MHz
    0x120: (2 << 8) | (0 << 4),  # CPU 650 MHz
    0x170: (1 << 20) | (10 << 8),  # FCLK0 100 MHz
    0x180: (1 << 20) | (20 << 8),
    0x190: (1 << 20) | (20 << 8),
    0x1A0: (1 << 20) | (20 << 8),
}


class SimBusError(BoardError):
    """An access no simulated slave answers (a real board would hang or take a bus fault)."""


@dataclass
class _Alloc:
    phys: int
    ddr: np.ndarray  # device-side bytes (what the fabric sees)
    host: np.ndarray  # CPU-side bytes (what Python sees); the same array when coherent


@dataclass
class VpTopModel:
    """The register file and behaviour of one vp_top IP (HLS ``ap_ctrl_hs``)."""

    device: SimulatedPynqDevice
    offsets: dict[str, int]
    busy_reads: int = 1
    regs: dict[int, int] = field(default_factory=dict)
    runs: int = 0
    _pending: int = 0

    def __post_init__(self) -> None:
        self.regs[self.offsets["CTRL"]] = AP_IDLE

    def read(self, off: int) -> int:
        ctrl = self.offsets["CTRL"]
        if off == ctrl and self._pending > 0:
            self._pending -= 1
            return AP_START  # still running: not idle, not done
        value = self.regs.get(off, 0)
        if off == ctrl:
            self.regs[off] = value & ~(AP_DONE | AP_READY)  # clear on read
        elif off == self.offsets["status_ctrl"]:
            self.regs[off] = 0
        return value

    def write(self, off: int, value: int) -> None:
        if off == self.offsets["CTRL"]:
            self.regs[off] = (self.regs.get(off, 0) & ~AUTO_RESTART) | (value & AUTO_RESTART)
            if value & AP_START:
                self.start()
        elif off == self.offsets["IP_ISR"]:
            self.regs[off] = self.regs.get(off, 0) ^ value  # toggle on write
        elif off != self.offsets["status"]:
            self.regs[off] = value & 0xFFFF_FFFF

    def _addr(self, name: str) -> int:
        return self.regs.get(self.offsets[f"{name}_1"], 0) | (
            self.regs.get(self.offsets[f"{name}_2"], 0) << 32
        )

    def start(self) -> None:
        """What ``vp_top`` does between ``ap_start`` and ``ap_done``."""
        o, dev = self.offsets, self.device
        vpw_len, arena_len = self.regs.get(o["vpw_len"], 0), self.regs.get(o["arena_len"], 0)
        vpw = dev.ddr_view(self._addr("vpw"), vpw_len)
        try:
            eng = Engine(vpw.tobytes())
            info = eng.info
            dev.ddr_view(self._addr("arena"), arena_len)
            if arena_len < info["arena_size"]:
                raise EngineError("scratch too small", -7)
            x = dev.ddr_view(self._addr("in_r"), info["input_size"]).view(np.int8)
            if dev.fabric == "rtl":
                y = dev.run_rtl(vpw.tobytes(), x.copy().reshape(info["input_shape"][1:]))
            else:
                y = eng.run(x.copy()).reshape(-1)
            dev.ddr_view(self._addr("out_r"), info["output_size"])[:] = y.view(np.uint8)
            status = 0
        except EngineError as e:
            status = e.status or -1
        self.regs[o["status"]] = status & 0xFFFF_FFFF
        self.regs[o["status_ctrl"]] = 1
        self.runs += 1
        self.regs[o["CTRL"]] = (self.regs[o["CTRL"]] & AUTO_RESTART) | AP_DONE | AP_IDLE | AP_READY
        self._pending = self.busy_reads
        if self.regs.get(o["IP_IER"], 0) & 1 and self.regs.get(o["GIER"], 0) & 1:
            self.regs[o["IP_ISR"]] = self.regs.get(o["IP_ISR"], 0) | 1


class SimulatedPynqDevice(pynq.Device):
    """A PYNQ-Z2 without the board: see the module docstring for what is real and what is not."""

    def __init__(
        self, tag: str = "pynq-z2-sim", *, busy_reads: int = 1, fabric: str | None = None
    ) -> None:
        super().__init__(tag)
        #: what runs behind vp_top: "engine" (the C engine, fast) or "rtl" (the overlay's
        #: Verilated RTL, fpga/; VP_PYNQ_FABRIC picks it for daemons started elsewhere)
        self.fabric = fabric or os.environ.get("VP_PYNQ_FABRIC", "engine")
        if self.fabric not in ("engine", "rtl"):
            raise BoardError(f"unknown PYNQ fabric {self.fabric!r}; known: engine, rtl")
        self.fabric_us: float | None = None  # the RTL's simulated time of the last run
        self._rtl: dict[bytes, Any] = {}
        self.name = tag
        self.arch = "armv7l"  # a Zynq-7000: pynq.ps.Clocks picks its Zynq SLCR layout
        self.capabilities = {"REGISTER_RW": True, "MEMORY_MAPPED": False, "CALLABLE": False}
        self.bitfile_name, self.timestamp = "", ""
        self.busy_reads = busy_reads
        self.ips: dict[int, tuple[int, VpTopModel | RtlTopModel]] = {}  # base -> (range, model)
        self.slcr = dict(_SLCR_RESET)
        self._allocs: dict[int, _Alloc] = {}
        self._bo = itertools.count(1)
        self._next_phys = DDR_BASE + 0x1000_0000  # the upper half of DDR, as CMA sits there

    # -- metadata and download (what EmbeddedDevice does, minus xclbin and FPGA manager) -----
    def run_rtl(self, vpw: bytes, x: np.ndarray) -> np.ndarray:
        """The overlay's RTL on one input (its memories loaded once per model, as the PS would
        load the BRAMs); ``fabric_us`` is its cycle count at FCLK0."""
        from fpga.sim import RtlSim

        sim = self._rtl.get(vpw)
        if sim is None:
            self._rtl.clear()
            sim = self._rtl[vpw] = RtlSim(vpw)
        y, cycles = sim.run(x)
        self.fabric_us = cycles / sim.cfg.clock_mhz
        return np.asarray(y, np.int8).reshape(-1)

    def get_bitfile_metadata(self, bitfile_name: str, partial: bool = False) -> Any:
        from pynq.pl_server.hwh_parser import get_hwh_name
        from pynqmetadata.frontends import Metadata
        from pynqmetadata.views.runtime import RuntimeMetadataParser

        return RuntimeMetadataParser(Metadata(input=get_hwh_name(bitfile_name)))

    def download(self, bitstream: Any, parser: Any = None) -> None:
        """Check the .bit header targets a PYNQ-Z2, then instantiate the IPs the .hwh lists."""
        with open(bitstream.bitfile_name, "rb") as f:
            header = parse_bit_header(f.read())
        if not header["part"].startswith(PART):
            raise BoardError(f"bitstream targets {header['part']}, this board is {PART}")
        self.ips.clear()
        for desc in parser.ip_dict.values():
            if str(desc.get("type", "")).split(":")[2:3] == [IP_NAME]:
                regs = desc["registers"]
                model: VpTopModel | RtlTopModel = (
                    RtlTopModel(self)  # the RTL overlay's own map (fpga/)
                    if is_rtl_map(regs)
                    else VpTopModel(self, register_offsets(regs), self.busy_reads)
                )
                self.ips[int(desc["phys_addr"])] = (int(desc["addr_range"]), model)
        self.post_download(bitstream, parser, self.name)

    # -- register access (pynq.MMIO's REGISTER_RW path) --------------------------------------
    def _target(self, addr: int) -> tuple[str, Any, int]:
        if SLCR_BASE <= addr < SLCR_BASE + SLCR_SIZE:
            return "slcr", None, addr - SLCR_BASE
        for base, (size, model) in self.ips.items():
            if base <= addr < base + size:
                return "ip", model, addr - base
        raise SimBusError(f"no simulated slave at 0x{addr:08X} (is the overlay downloaded?)")

    def read_registers(self, address: int, length: int) -> bytes:
        out = b""
        for a in range(address, address + length, 4):
            kind, model, off = self._target(a)
            v = self.slcr.get(off, 0) if kind == "slcr" else model.read(off)
            out += int(v & 0xFFFF_FFFF).to_bytes(4, "little")
        return out[:length]

    def write_registers(self, address: int, data: bytes) -> None:
        if len(data) % 4:
            raise SimBusError("AXI-Lite writes are whole 32-bit words")
        for i in range(0, len(data), 4):
            kind, model, off = self._target(address + i)
            value = int.from_bytes(data[i : i + 4], "little")
            if kind == "slcr":
                self.slcr[off] = value
            else:
                model.write(off, value)

    def mmap(self, base_addr: int, length: int) -> None:
        raise SimBusError("the simulated device has no /dev/mem; MMIO uses REGISTER_RW")

    # -- memory (pynq.allocate, PynqBuffer.flush/invalidate) ---------------------------------
    def allocate(self, shape: Any, dtype: Any, cacheable: bool = True, **kw: object) -> PynqBuffer:
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        size = max(4096, -(-nbytes // 4096) * 4096)
        if self._next_phys + size > DDR_BASE + DDR_SIZE:
            raise MemoryError("simulated CMA exhausted")
        phys, bo = self._next_phys, next(self._bo)
        self._next_phys += size
        ddr = np.zeros(size, np.uint8)
        host = np.zeros(size, np.uint8) if cacheable else ddr
        self._allocs[bo] = _Alloc(phys, ddr, host)
        return PynqBuffer(
            shape,
            dtype,
            buffer=host,
            device_address=phys,
            bo=bo,
            coherent=not cacheable,
            device=self,
        )

    def flush(self, bo: int, offset: int, vaddr: int, nbytes: int) -> None:
        a = self._allocs[bo]
        a.ddr[offset : offset + nbytes] = a.host[offset : offset + nbytes]

    def invalidate(self, bo: int, offset: int, vaddr: int, nbytes: int) -> None:
        a = self._allocs[bo]
        a.host[offset : offset + nbytes] = a.ddr[offset : offset + nbytes]

    def ddr_view(self, phys: int, nbytes: int) -> np.ndarray:
        """The device-side bytes at a physical address (what an AXI master would read)."""
        for a in self._allocs.values():
            if a.phys <= phys and phys + nbytes <= a.phys + a.ddr.size:
                return a.ddr[phys - a.phys : phys - a.phys + nbytes]
        raise SimBusError(f"no buffer covers 0x{phys:08X}+{nbytes} (DMA outside allocated memory)")

    @property
    def runs(self) -> int:
        """Inferences the simulated fabric ran, over all IPs."""
        return sum(m.runs for _, m in self.ips.values())


def install(device: SimulatedPynqDevice | None = None) -> SimulatedPynqDevice:
    """Make a simulated device pynq's active one, so ``pynq.allocate``/``Overlay`` use it."""
    device = device or SimulatedPynqDevice()
    pynq.Device.active_device = device
    return device
