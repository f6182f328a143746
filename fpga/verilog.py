"""Verilog export of the overlay (Amaranth's built-in Yosys; Debian's 0.23 is too old for it),
cached by a hash of the RTL sources and the configuration so tests and commands share one copy."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from fpga.config import DEFAULT, Config
from fpga.errors import ToolMissing

RTL_DIR = Path(__file__).parent / "rtl"
INSTALL = 'pip install "vp-edge[fpga]" (Amaranth with its built-in Yosys)'


def cache_dir() -> Path:
    """Where generated Verilog and simulators live (``VP_FPGA_CACHE`` or ~/.cache/vp-edge/fpga)."""
    base = os.environ.get("VP_FPGA_CACHE") or Path.home() / ".cache" / "vp-edge" / "fpga"
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def design_key(cfg: Config = DEFAULT, top: str = "vp_core") -> str:
    """A hash of everything the Verilog depends on."""
    h = hashlib.sha256(repr((cfg, top)).encode())
    for p in sorted(
        [
            *RTL_DIR.glob("*.py"),
            Path(__file__).parent / "program.py",
            Path(__file__).parent / "config.py",
        ]
    ):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def elaborate(cfg: Config = DEFAULT, top: str = "vp_core") -> object:
    """The Amaranth component for ``top`` (``vp_core``: the compute core; ``vp_top``: with AXI;
    ``vp_dma``: the AXI master alone)."""
    try:
        from fpga.rtl.core import VpCore
    except ImportError as e:
        raise ToolMissing(f"Amaranth HDL is not installed ({e}); {INSTALL}") from None
    if top == "vp_core":
        return VpCore(cfg)
    if top == "vp_dma":  # the AXI master alone, for its own resource figures
        from fpga.rtl.dma import Dma

        return Dma(cfg)
    from fpga.rtl.axi import VpTop

    return VpTop(cfg)


def export_verilog(cfg: Config = DEFAULT, top: str = "vp_core") -> Path:
    """The design as one Verilog file (cached); returns its path."""
    out = cache_dir() / f"{top}-{design_key(cfg, top)}.v"
    if out.exists():
        return out
    comp = elaborate(cfg, top)
    from amaranth.back import verilog

    try:
        text = verilog.convert(comp, name=top, emit_src=False)
    except Exception as e:  # amaranth raises its own error types when no Yosys >= 0.40 is found
        raise ToolMissing(f"Verilog export failed: {e}; {INSTALL}") from None
    tmp = out.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(out)
    return out


#: one memory word set to zero in an ``initial`` block, as Amaranth's export writes every word
_ZERO_WORD = re.compile(r"    (\w+)\[(\d+)\] = \d+'[hd]0+;\n")
_INIT_BLOCK = re.compile(r"  initial begin\n((?:    \w+\[\d+\] = \d+'[hd]0+;\n)+)  end\n")


def zero_init_loops(text: str) -> str:
    """The same design with each all-zero memory ``initial`` block written as one loop.

    Amaranth's export sets every word of every memory to zero, one statement a word; Verilator
    turns that into one C++ function of a statement per word (133,885 lines for the overlay's
    four memories), whose compilation was most of a cold simulator build. Blocks that set
    anything but zeros, or more than one memory, are left as they are."""

    def loop(m: re.Match[str]) -> str:
        words = _ZERO_WORD.findall(m.group(1))
        names = {n for n, _ in words}
        index = sorted(int(i) for _, i in words)
        if len(names) != 1 or index != list(range(len(index))):
            return m.group(0)
        name = names.pop()
        i = f"vp_init_{name}"
        return (
            f"  integer {i};\n"
            f"  initial for ({i} = 0; {i} < {len(index)}; {i} = {i} + 1) {name}[{i}] = 0;\n"
        )

    return _INIT_BLOCK.sub(loop, text)


def simulation_verilog(cfg: Config = DEFAULT, top: str = "vp_core") -> Path:
    """The exported Verilog with ``zero_init_loops`` applied, for Verilator (cached beside it);
    synthesis reads the export itself."""
    src = export_verilog(cfg, top)
    out = src.with_suffix(".sim.v")
    if not out.exists():
        tmp = out.with_suffix(".tmp")
        tmp.write_text(zero_init_loops(src.read_text()))
        tmp.replace(out)
    return out
