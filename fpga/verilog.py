"""Verilog export of the overlay (Amaranth's built-in Yosys; Debian's 0.23 is too old for it),
cached by a hash of the RTL sources and the configuration so tests and commands share one copy."""

from __future__ import annotations

import hashlib
import os
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
