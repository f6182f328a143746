"""Cycle-accurate simulation of the exported Verilog: Verilator 5 builds the core into a shared
library with a small C harness (fpga/sim_harness.cpp), driven here through ctypes.

The memories are loaded once per model (program, weights, requantisation words) through the
core's load port, then each inference loads its input words, runs to done and reads the result
back, with the core's own cycle count. Layers the overlay leaves to the PS (``Program.tail``)
run on the C engine, as a board's PS would run them.
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np

from fpga.config import DEFAULT, Config
from fpga.errors import ToolFailed, ToolMissing
from fpga.program import Program, read_program
from fpga.rtl_ports import SEL
from fpga.verilog import cache_dir, simulation_verilog

HARNESS = Path(__file__).parent / "sim_harness.cpp"
VERILATOR_INCLUDE = Path("/usr/share/verilator/include")


def _run(cmd: list[str], cwd: Path) -> None:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise ToolFailed(f"{cmd[0]} failed ({r.returncode}): {(r.stderr or r.stdout)[-2000:]}")


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
    _run(
        [
            "nice",
            "-n",
            "10",
            "verilator",
            "--cc",
            str(verilog),
            "--top-module",
            "vp_core",
            "-Wno-fatal",
            "-Wno-lint",
            "-Wno-style",
            "-O3",
            "--build",
            "-j",
            "2",
            "-CFLAGS",
            "-fPIC -O1",
            "-Mdir",
            "obj",
        ],
        work,
    )
    inc = [f"-I{VERILATOR_INCLUDE}", f"-I{VERILATOR_INCLUDE / 'vltstd'}", "-Iobj"]
    srcs = [
        str(VERILATOR_INCLUDE / "verilated.cpp"),
        str(VERILATOR_INCLUDE / "verilated_threads.cpp"),
    ]
    tmp = lib.with_suffix(".tmp.so")
    _run(
        [
            "g++",
            "-shared",
            "-fPIC",
            "-O1",
            *inc,
            str(HARNESS),
            "obj/Vvp_core__ALL.a",
            *srcs,
            "-o",
            str(tmp),
            "-lpthread",
        ],
        work,
    )
    tmp.replace(lib)
    return lib


def _words32(img: np.ndarray) -> np.ndarray:
    """uint8 rows -> little-endian uint32 words per row (rows padded to 4 bytes)."""
    img = np.ascontiguousarray(img, np.uint8)
    pad = (-img.shape[1]) % 4
    if pad:
        img = np.pad(img, ((0, 0), (0, pad)))
    return np.ascontiguousarray(img).view("<u4").reshape(img.shape[0], -1)


class RtlSim:
    """One simulated overlay holding one model: ``run(x)`` -> (int8 output, cycles)."""

    def __init__(self, vpw: bytes, cfg: Config = DEFAULT) -> None:
        self.cfg = cfg
        self.program: Program = read_program(vpw, cfg)
        self._vpw = bytes(vpw)
        self._lib = ctypes.CDLL(str(build_simulator(cfg)))
        self._lib.vp_sim_new.restype = ctypes.c_void_p
        self._lib.vp_sim_run.restype = ctypes.c_int64
        self._lib.vp_sim_ticks.restype = ctypes.c_uint64
        for fn in ("vp_sim_load", "vp_sim_run", "vp_sim_read", "vp_sim_free", "vp_sim_ticks"):
            getattr(self._lib, fn).argtypes = None
        self._h = ctypes.c_void_p(self._lib.vp_sim_new())
        p = self.program
        desc = np.ascontiguousarray(p.desc.reshape(-1, 1)).view("<u4").reshape(-1, 1)
        self._load("prog", 0, desc.astype(np.uint32))
        if len(p.wgt):
            self._load("wgt", 0, _words32(p.wgt))
        if len(p.qnt):
            self._load("qnt", 0, _words32(p.qnt))
        self._engine = None
        if p.head or p.tail:
            from firmware_bridge.engine import Engine

            self._engine = Engine(self._vpw)

    def _load(self, mem: str, addr: int, words: np.ndarray) -> None:
        w = np.ascontiguousarray(words, np.uint32)
        self._lib.vp_sim_load(
            self._h,
            ctypes.c_int(SEL[mem]),
            ctypes.c_int(addr),
            w.ctypes.data_as(ctypes.c_void_p),
            ctypes.c_int(w.shape[1]),
            ctypes.c_int(w.shape[0]),
        )

    def read_act(self, addr: int, n: int) -> np.ndarray:
        """n ACT words from addr as uint8 [n, lanes]."""
        per = self.cfg.act_bits // 32
        out = np.zeros((n, per), np.uint32)
        self._lib.vp_sim_read(
            self._h,
            ctypes.c_int(addr),
            ctypes.c_int(n),
            ctypes.c_int(per),
            out.ctypes.data_as(ctypes.c_void_p),
        )
        return out.view(np.uint8).reshape(n, self.cfg.lanes)

    def run_layers(self, x: np.ndarray, n_layers: int) -> int:
        """Load the input and run the first n_layers descriptors; returns the core's cycles."""
        p = self.program
        self._load("act", p.inp.base, _words32(p.pack_input(x)))
        cycles = self._lib.vp_sim_run(self._h, ctypes.c_int(n_layers), ctypes.c_int64(1 << 40))
        if cycles < 0:
            raise ToolFailed("the simulated overlay did not finish")
        return int(cycles)

    def run(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        """One inference: the int8 output (any tail on the C engine) and the overlay's cycles."""
        p = self.program
        if p.head:
            x = self._engine.run_head(x, len(p.head))
        cycles = self.run_layers(x, len(p.desc))
        y = p.unpack_output(self.read_act(p.out.base, p.out.words))
        if p.tail:
            y = self._engine.run_tail(p.tail[0], p.tail_offset, y)
        return y, cycles

    def close(self) -> None:
        if self._h:
            self._lib.vp_sim_free(self._h)
            self._h = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass
