"""Resource report: Debian's Yosys ``synth_xilinx -family xc7`` on the exported Verilog, against
the xc7z020's totals. Yosys gives resources, not timing (that needs Vivado): the design clock
is an assumption stated beside every figure (``Config.clock_mhz``)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from fpga.config import DEFAULT, Config
from fpga.errors import ToolFailed, ToolMissing
from fpga.verilog import cache_dir, export_verilog

#: xc7z020 (PYNQ-Z2) totals, DS190 Table 1 / the reference digest
XC7Z020 = {"LUT": 53200, "FF": 106400, "DSP48E1": 220, "BRAM36": 140}
#: the issue's bar for "fits": DSP and BRAM within the totals, LUTs within 80 %
LUT_LIMIT = 0.8


def _count(cells: dict[str, int]) -> dict[str, float]:
    lut = sum(v for k, v in cells.items() if k.startswith("LUT") and k[3:].isdigit())
    lutram = sum(v for k, v in cells.items() if k.startswith("RAM") and k.endswith("M"))
    srl = sum(v for k, v in cells.items() if k.startswith("SRL"))
    ff = sum(v for k, v in cells.items() if k in ("FDRE", "FDSE", "FDCE", "FDPE"))
    r36, r18 = cells.get("RAMB36E1", 0), cells.get("RAMB18E1", 0)
    return {
        "LUT": lut + lutram + srl, "FF": ff, "DSP48E1": cells.get("DSP48E1", 0),
        "RAMB36E1": r36, "RAMB18E1": r18, "BRAM36": r36 + r18 / 2, "CARRY4": cells.get("CARRY4", 0),
    }  # fmt: skip


def _stat_path(cfg: Config, top: str) -> tuple[Path, Path]:
    """(the exported Verilog, where its synthesis result is cached: keyed by content)."""
    verilog = export_verilog(cfg, top)
    key = hashlib.sha256(verilog.read_bytes()).hexdigest()[:16]
    return verilog, cache_dir() / f"{top}-synth-{key}.stat.json"


def cached_report(cfg: Config = DEFAULT, top: str = "vp_core") -> dict | None:
    """The report if this design was synthesised before, else None (never runs Yosys)."""
    return synth_report(cfg, top) if _stat_path(cfg, top)[1].exists() else None


def synth_report(cfg: Config = DEFAULT, top: str = "vp_core", log: Path | None = None) -> dict:
    """Synthesise for xc7 and return used/total/percent per resource and whether it fits."""
    verilog, out = _stat_path(cfg, top)
    if not out.exists():
        if shutil.which("yosys") is None:
            raise ToolMissing("yosys is not installed; apt-get install yosys (Debian 12: 0.23)")
        script = (
            f"read_verilog {verilog}; synth_xilinx -family xc7 -top {top} -flatten -noiopad; "
            f"tee -q -o {out}.tmp stat -json"
        )
        r = subprocess.run(["yosys", "-q", "-p", script], capture_output=True, text=True)
        if log is not None:
            log.write_text(r.stdout + r.stderr)
        if r.returncode != 0:
            raise ToolFailed(f"yosys failed ({r.returncode}): {(r.stderr or r.stdout)[-2000:]}")
        Path(f"{out}.tmp").replace(out)
    stat = json.loads(out.read_text())
    design = stat.get("design") or next(iter(stat["modules"].values()))
    used = _count({k: int(v) for k, v in design["num_cells_by_type"].items()})
    rows = {
        k: {"used": used[k], "total": t, "percent": round(100.0 * used[k] / t, 1)}
        for k, t in XC7Z020.items()
    }
    fits = (
        used["DSP48E1"] <= XC7Z020["DSP48E1"]
        and used["BRAM36"] <= XC7Z020["BRAM36"]
        and used["LUT"] <= LUT_LIMIT * XC7Z020["LUT"]
    )
    return {
        "top": top, "part": "xc7z020clg400-1", "clock_mhz": cfg.clock_mhz,
        "lanes": cfg.lanes, "resources": rows, "cells": used, "fits": fits,
        "tool": "yosys synth_xilinx -family xc7 (resources only; no timing without Vivado)",
    }  # fmt: skip
