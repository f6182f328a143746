"""The vp_top overlay as PYNQ sees it: register map, a minimal .hwh and a header-only .bit.

The register map is docs/vpw.md's table (Vitis HLS ``s_axi_control`` defaults for the
``vp_top`` function). A real overlay ships the .hwh Vivado writes; the simulated PYNQ board
(boards/pynq_sim.py) needs one too, because ``pynq.Overlay`` learns the IP's address and
registers only from the .hwh. ``write_overlay`` writes the smallest .hwh that PYNQ's own parser
(pynqmetadata, as used by ``EmbeddedDevice``) turns into an ``ip_dict`` with this IP, its
registers and the PS7's PL clock 0, next to a .bit with a valid header and no configuration
frames (a real board's FPGA manager would refuse it; the simulation never loads it).
Stdlib only (and fpga/rtl_ports.py, itself stdlib only): the main environment can write these
files without pynq.
"""

from __future__ import annotations

import struct
from pathlib import Path
from xml.etree import ElementTree as ET

from fpga.rtl_ports import REGS as RTL_REGS

#: VLNV of the HLS IP; the adapter finds the IP by its name part ("vp_top")
IP_VLNV = "xilinx.com:hls:vp_top:1.0"
IP_NAME = "vp_top"
PS_VLNV = "xilinx.com:ip:processing_system7:5.5"
PART = "7z020clg400"
#: where Vivado's address editor puts the first IP on M_AXI_GP0 of a Zynq-7000
DEFAULT_BASE = 0x4000_0000
IP_RANGE = 0x1_0000
#: what S_AXI_HP0 reaches: the PYNQ-Z2's 512 MiB of DDR
DDR_BASE, DDR_SIZE = 0x0, 0x2000_0000

#: (hwh register name, offset, description): docs/vpw.md, "Register map"
REGISTERS: tuple[tuple[str, int, str], ...] = (
    ("CTRL", 0x00, "bit 0 ap_start, 1 ap_done (COR), 2 ap_idle, 3 ap_ready (COR), 7 auto_restart"),
    ("GIER", 0x04, "global interrupt enable"),
    ("IP_IER", 0x08, "IP interrupt enable: bit 0 done, bit 1 ready"),
    ("IP_ISR", 0x0C, "IP interrupt status (toggle on write)"),
    ("vpw_1", 0x10, "vpw buffer address, low 32 bits"),
    ("vpw_2", 0x14, "vpw buffer address, high 32 bits"),
    ("vpw_len", 0x1C, "vpw length in bytes"),
    ("in_r_1", 0x24, "input buffer address, low 32 bits"),
    ("in_r_2", 0x28, "input buffer address, high 32 bits"),
    ("out_r_1", 0x30, "output buffer address, low 32 bits"),
    ("out_r_2", 0x34, "output buffer address, high 32 bits"),
    ("arena_1", 0x3C, "arena buffer address, low 32 bits"),
    ("arena_2", 0x40, "arena buffer address, high 32 bits"),
    ("arena_len", 0x48, "arena length in bytes"),
    ("status", 0x50, "engine status (0 ok, negative VP_ERR_*)"),
    ("status_ctrl", 0x54, "bit 0 status_ap_vld (COR)"),
)
#: the RTL overlay's map (fpga/, docs/pynq.md): ap_ctrl, then its run arguments from 0x10
RTL_VLNV = "vp-edge:overlay:vp_top:1.0"
RTL_REGISTERS: tuple[tuple[str, int, str], ...] = tuple(
    (name, off, "fpga/rtl_ports.py") for name, off in RTL_REGS.items()
)
#: control register bits
AP_START, AP_DONE, AP_IDLE, AP_READY, AUTO_RESTART = 0x1, 0x2, 0x4, 0x8, 0x80


def register_offsets(registers: dict | None = None) -> dict[str, int]:
    """Offsets by name: from an ``ip_dict[...]["registers"]`` when given, else the defaults.

    HLS renames C ports that are HDL keywords (``in`` -> ``in_r``); both spellings resolve.
    """
    offsets = {name: off for name, off, _ in REGISTERS}
    for name, reg in (registers or {}).items():
        offsets[name] = int(reg["address_offset"])
    for short in ("in", "out"):
        for half in ("1", "2"):
            if f"{short}_{half}" in offsets and f"{short}_r_{half}" not in (registers or {}):
                offsets[f"{short}_r_{half}"] = offsets[f"{short}_{half}"]
    return offsets


def bit_header(design: str, part: str = PART, payload: bytes = b"") -> bytes:
    """A Xilinx .bit file: the fields ``pynq``'s ``parse_bit_header`` reads, then ``payload``."""

    def field(tag: bytes, text: str) -> bytes:
        data = text.encode("ascii") + b"\0"
        return tag + struct.pack(">H", len(data)) + data

    if len(payload) % 4:
        raise ValueError("the bitstream payload must be whole 32-bit words")
    head = struct.pack(">H", 9) + bytes.fromhex("0ff00ff00ff00ff000") + struct.pack(">H", 1)
    head += field(b"a", f"{design};UserID=0XFFFFFFFF;Version=simulated")
    head += field(b"b", part) + field(b"c", "2026/01/01") + field(b"d", "00:00:00")
    return head + b"e" + struct.pack(">I", len(payload)) + payload


def _sub(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})


def _params(module: ET.Element, values: dict[str, str]) -> None:
    params = _sub(module, "PARAMETERS")
    for k, v in values.items():
        _sub(params, "PARAMETER", NAME=k, VALUE=v)


def _bus(parent: ET.Element, name: str, kind: str) -> None:
    _sub(parent, "BUSINTERFACE", NAME=name, TYPE=kind, VLNV="xilinx.com:interface:aximm:1.0")


def _memrange(
    parent: ET.Element,
    master: str,
    instance: str,
    slave: str,
    block: str,
    base: int,
    size: int,
    memtype: str,
) -> None:
    _sub(
        parent,
        "MEMRANGE",
        ADDRESSBLOCK=block,
        BASENAME="C_BASEADDR",
        BASEVALUE=f"0x{base:08X}",
        HIGHNAME="C_HIGHADDR",
        HIGHVALUE=f"0x{base + size - 1:08X}",
        INSTANCE=instance,
        IS_DATA="TRUE",
        IS_INSTRUCTION="TRUE",
        MASTERBUSINTERFACE=master,
        MEMTYPE=memtype,
        SLAVEBUSINTERFACE=slave,
    )


def _ps7(modules: ET.Element, ip: str, base: int, fclk_mhz: float) -> None:
    ps = _sub(
        modules,
        "MODULE",
        FULLNAME="/processing_system7_0",
        INSTANCE="processing_system7_0",
        IPTYPE="PERIPHERAL",
        MODCLASS="PROCESSOR",
        MODTYPE="processing_system7",
        VLNV=PS_VLNV,
    )
    clocks: dict[str, str] = {}
    for i in range(4):
        on = i == 0
        clocks[f"PCW_FPGA_FCLK{i}_ENABLE"] = "1" if on else "0"
        clocks[f"PCW_FCLK{i}_PERIPHERAL_CLKSRC"] = "IO PLL"
        clocks[f"PCW_FCLK{i}_PERIPHERAL_DIVISOR0"] = str(round(1000 / fclk_mhz)) if on else "1"
        clocks[f"PCW_FCLK{i}_PERIPHERAL_DIVISOR1"] = "1"
        clocks[f"PCW_FPGA{i}_PERIPHERAL_FREQMHZ"] = f"{fclk_mhz:g}" if on else "50"
        clocks[f"PCW_ACT_FPGA{i}_PERIPHERAL_FREQMHZ"] = f"{fclk_mhz:.6f}" if on else "10.000000"
    _params(ps, {"C_FCLK_CLK0_FREQ": str(int(fclk_mhz * 1e6)), **clocks})
    ports = _sub(ps, "PORTS")
    clk = _sub(ports, "PORT", DIR="O", NAME="FCLK_CLK0", SIGIS="clk")
    _sub(_sub(clk, "CONNECTIONS"), "CONNECTION", INSTANCE=ip, PORT="ap_clk")
    buses = _sub(ps, "BUSINTERFACES")
    _bus(buses, "M_AXI_GP0", "MASTER")
    _bus(buses, "S_AXI_HP0", "SLAVE")
    mmap = _sub(ps, "MEMORYMAP")
    _memrange(mmap, "M_AXI_GP0", ip, "s_axi_control", "Reg", base, IP_RANGE, "REGISTER")


def _vp_top(modules: ET.Element, ip: str, fabric: str = "engine") -> None:
    rtl = fabric == "rtl"
    m = _sub(
        modules,
        "MODULE",
        FULLNAME=f"/{ip}",
        INSTANCE=ip,
        IPTYPE="PERIPHERAL",
        MODCLASS="PERIPHERAL",
        MODTYPE=IP_NAME,
        VLNV=RTL_VLNV if rtl else IP_VLNV,
    )
    _params(m, {"C_S_AXI_CONTROL_BASEADDR": "0x40000000", "C_S_AXI_CONTROL_ADDR_WIDTH": "7"})
    block = _sub(
        _sub(m, "ADDRESSBLOCKS"),
        "ADDRESSBLOCK",
        ACCESS="read-write",
        INTERFACE="s_axi_control",
        NAME="Reg",
        RANGE=str(IP_RANGE),
        USAGE="register",
    )
    regs = _sub(block, "REGISTERS")
    for name, off, desc in RTL_REGISTERS if rtl else REGISTERS:
        reg = _sub(regs, "REGISTER", NAME=name)
        props = {
            "DESCRIPTION": desc,
            "ADDRESS_OFFSET": str(off),
            "SIZE": "32",
            "ACCESS": "read-write",
            "IS_ENABLED": "true",
            "RESET_VALUE": "0x0",
        }
        for k, v in props.items():
            _sub(reg, "PROPERTY", NAME=k, VALUE=v)
    ports = _sub(m, "PORTS")
    clk = _sub(ports, "PORT", DIR="I", NAME="ap_clk", SIGIS="clk")
    _sub(_sub(clk, "CONNECTIONS"), "CONNECTION", INSTANCE="processing_system7_0", PORT="FCLK_CLK0")
    buses = _sub(m, "BUSINTERFACES")
    _bus(buses, "s_axi_control", "SLAVE")
    mmap = _sub(m, "MEMORYMAP")
    for master in ["m_axi_gmem"] if rtl else [f"m_axi_gmem{i}" for i in range(3)]:
        _bus(buses, master, "MASTER")
        _memrange(
            mmap,
            master,
            "processing_system7_0",
            "S_AXI_HP0",
            "HP0_DDR_LOWOCM",
            DDR_BASE,
            DDR_SIZE,
            "MEMORY",
        )


def hwh_text(
    design: str = "vp",
    ip: str = "vp_top_0",
    base: int = DEFAULT_BASE,
    fclk_mhz: float = 100.0,
    fabric: str = "engine",
) -> str:
    """The .hwh of a block design holding the PS7 and one vp_top IP (docs/vpw.md, step 2);
    ``fabric="rtl"``: the RTL overlay's IP (fpga/vivado.py's block design) instead of HLS's."""
    root = ET.Element(
        "EDKSYSTEM", EDWVERSION="1.2", TIMESTAMP="simulated", VIVADOVERSION="simulated"
    )
    _sub(
        root,
        "SYSTEMINFO",
        ARCH="zynq",
        DEVICE="7z020",
        NAME=design,
        PACKAGE="clg400",
        SPEEDGRADE="-1",
    )
    _sub(root, "EXTERNALPORTS")
    _sub(root, "EXTERNALINTERFACES")
    modules = _sub(root, "MODULES")
    _ps7(modules, ip, base, fclk_mhz)
    _vp_top(modules, ip, fabric)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n' + ET.tostring(
        root, encoding="unicode"
    )


def write_overlay(
    folder: Path,
    design: str = "vp",
    ip: str = "vp_top_0",
    base: int = DEFAULT_BASE,
    fclk_mhz: float = 100.0,
    fabric: str = "engine",
) -> Path:
    """Write ``<design>.bit`` (header only) and ``<design>.hwh`` into ``folder``; the .bit path."""
    folder.mkdir(parents=True, exist_ok=True)
    bit = folder / f"{design}.bit"
    # payload: a dummy word and the 7-series sync word, so the body is not empty
    bit.write_bytes(bit_header(design, payload=bytes.fromhex("ffffffffaa995566")))
    (folder / f"{design}.hwh").write_text(
        hwh_text(design, ip, base, fclk_mhz, fabric), encoding="utf-8"
    )
    return bit
