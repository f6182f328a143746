"""Cycle-accurate simulation of the exported Verilog: Verilator 5 builds the core into a shared
library with a small C harness (fpga/sim_harness.cpp), driven here through ctypes.

The harness answers the core's AXI master with a DDR model (fpga/sim_harness.cpp): the model's
program, weights and requantisation words are read from it once per model, then each inference
has the master read its input, run the layers and write the result back, all in the core's own
cycle count. Layers the overlay leaves to the PS (``Program.tail``)
run on the C engine, as a board's PS would run them.
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from fpga.config import DEFAULT, Config
from fpga.errors import ToolFailed, ToolMissing
from fpga.program import Program, read_program
from fpga.rtl_ports import ARGS, REGS
from fpga.verilog import cache_dir, simulation_verilog

HARNESS = Path(__file__).parent / "sim_harness.cpp"
VERILATOR_INCLUDE = Path("/usr/share/verilator/include")


def _run(cmd: list[str], cwd: Path) -> None:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise ToolFailed(f"{cmd[0]} failed ({r.returncode}): {(r.stderr or r.stdout)[-2000:]}")


#: Verilator's command: the core to C++, built at -O3 for the model and -O1 for the C++ compiler
VERILATE = ("nice", "-n", "10", "verilator", "--cc", "--top-module", "vp_core", "-Wno-fatal",
            "-Wno-lint", "-Wno-style", "-O3", "--build", "-j", "2", "-CFLAGS", "-fPIC -O1",
            "-Mdir", "obj")  # fmt: skip


def build_simulator(cfg: Config = DEFAULT, build: bool = True) -> Path:
    """The Verilated core as a shared library (cached: minutes the first time on two cores);
    ``build=False`` only finds a cached one (raises ToolMissing otherwise)."""
    verilog = simulation_verilog(cfg)  # memories zeroed by loops: minutes less to compile
    key = hashlib.sha256(verilog.read_bytes() + HARNESS.read_bytes()).hexdigest()[:16]
    lib = cache_dir() / f"libvpsim-{key}.so"
    if lib.exists():
        return lib
    if not build:
        raise ToolMissing(f"no simulator built for this design yet ({lib.name})")
    if shutil.which("verilator") is None:
        raise ToolMissing(
            "verilator is not installed; apt-get install verilator (Debian 12: 5.006)"
        )
    work = cache_dir() / f"vbuild-{key}"
    work.mkdir(exist_ok=True)
    _run([*VERILATE, str(verilog)], work)
    _link_harness(work, lib)
    return lib


def _link_harness(work: Path, lib: Path) -> None:
    """Link the harness with the Verilated core (``work/obj``) into ``lib``, atomically."""
    inc = [f"-I{VERILATOR_INCLUDE}", f"-I{VERILATOR_INCLUDE / 'vltstd'}", "-Iobj"]
    srcs = [
        str(VERILATOR_INCLUDE / "verilated.cpp"),
        str(VERILATOR_INCLUDE / "verilated_threads.cpp"),
    ]
    tmp = lib.with_suffix(".tmp.so")
    cmd = ["g++", "-shared", "-fPIC", "-O1", *inc, str(HARNESS), "obj/Vvp_core__ALL.a", *srcs]
    _run([*cmd, "-o", str(tmp), "-lpthread"], work)
    tmp.replace(lib)


#: the DDR model's read latency in design-clock cycles (address taken to first beat; 400 ns at
#: 100 MHz, an assumption for DDR3 behind the HP port's FIFOs and the DDR controller: no board
#: was measured); the harness takes any value, and the master hides up to 64 cycles
DDR_LATENCY = 40
#: where the simulated buffer sits (as ``pynq.allocate`` gives a CMA address)
DDR_BASE = 0x1800_0000


class VerilatedCore:
    """The Verilated ``vp_core`` behind ``vp_top``'s register map (``write``/``read`` as pynq's
    MMIO offers them; ``ap_start`` runs the core to done at once), its AXI master answered from
    a caller's uint8 buffer at a physical address (``attach``)."""

    def __init__(self, cfg: Config = DEFAULT, latency: int = DDR_LATENCY) -> None:
        self.cfg = cfg
        lib = self._lib = ctypes.CDLL(str(build_simulator(cfg)))
        lib.vp_sim_new.restype = ctypes.c_void_p
        lib.vp_sim_run.restype = ctypes.c_int64
        lib.vp_sim_move_cycles.restype = ctypes.c_uint32
        lib.vp_sim_ticks.restype = ctypes.c_uint64
        self._h: ctypes.c_void_p | None = ctypes.c_void_p(lib.vp_sim_new(ctypes.c_int(latency)))
        self._regs = dict.fromkeys(REGS.values(), 0)
        self._buf: np.ndarray | None = None

    def attach(self, buf: np.ndarray, base: int) -> None:
        """The DDR the master sees: ``buf`` (kept alive here) at physical address ``base``."""
        self._buf = buf
        self._lib.vp_sim_attach(
            self._h,
            buf.ctypes.data_as(ctypes.c_void_p),
            ctypes.c_uint64(base),
            ctypes.c_uint64(buf.nbytes),
        )

    def write(self, offset: int, value: int) -> None:
        self._regs[offset] = int(value) & 0xFFFF_FFFF
        if offset == REGS["CTRL"] and value & 1:
            args = [self._regs[REGS[a.upper()]] for a in ARGS]
            cycles = self._lib.vp_sim_run(
                self._h, (ctypes.c_uint32 * len(args))(*args), ctypes.c_int64(1 << 40)
            )
            if cycles == -2:
                raise ToolFailed("the simulated overlay's AXI master reached outside its DDR")
            if cycles < 0:
                raise ToolFailed("the simulated overlay did not finish")
            self._regs[REGS["CYCLES"]] = int(cycles)
            self._regs[REGS["MOVE_CYCLES"]] = int(self._lib.vp_sim_move_cycles(self._h))
            self._regs[REGS["CTRL"]] = 0x2 | 0x4 | 0x8  # ap_done, ap_idle, ap_ready

    def read(self, offset: int) -> int:
        v = self._regs.get(offset, 0)
        if offset == REGS["CTRL"]:
            self._regs[offset] = 0x4  # done and ready clear on read
        return self.cfg.lanes if offset == REGS["LANES"] else v

    def close(self) -> None:
        if self._h:
            self._lib.vp_sim_free(self._h)
            self._h = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass


class RtlSim:
    """One simulated overlay holding one model: ``run(x)`` -> (int8 output, cycles), the cycles
    counting the AXI master's reading of the input and writing of the output. The model itself
    is read from DDR once (``load_cycles``); ``move_cycles``: the last run's cycles moving data.
    Driven through ``fpga.host.OverlayHost``, as the PS drives the board."""

    def __init__(self, vpw: bytes, cfg: Config = DEFAULT, latency: int = DDR_LATENCY) -> None:
        from fpga.host import OverlayHost, buffer_bytes

        self.cfg, self.latency = cfg, latency
        self.program: Program = read_program(vpw, cfg)
        self._vpw = bytes(vpw)
        self.core = VerilatedCore(cfg, latency)
        self.ddr = np.zeros(buffer_bytes(self.program), np.uint8)
        self.core.attach(self.ddr, DDR_BASE)
        self.host = OverlayHost(self.program, self.core, self.ddr, DDR_BASE)
        self.load_cycles = self.host.load_model()
        p = self.program
        self._engine: Any = None
        if p.head or p.tail:
            from firmware_bridge.engine import Engine

            self._engine = Engine(self._vpw)

    @property
    def move_cycles(self) -> int:
        return self.host.move_cycles

    def read_act(self, addr: int, n: int) -> np.ndarray:
        """n ACT words from addr as uint8 [n, lanes] (written to DDR by the master)."""
        return self.host.read_act(addr, n)

    def run_layers(self, x: np.ndarray, n_layers: int) -> int:
        """Input to DDR, run the first n_layers descriptors, the result back to DDR; returns
        the core's cycles (the master's reads and writes included)."""
        return self.host.run_layers(x, n_layers)

    def run(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        """One inference: the int8 output (any tail on the C engine) and the overlay's cycles."""
        p = self.program
        if p.head:
            x = self._engine.run_head(x, len(p.head))
        y, cycles = self.host.run(x)
        if p.tail:
            y = self._engine.run_tail(p.tail[0], p.tail_offset, y)
        return y, cycles

    def close(self) -> None:
        self.core.close()
