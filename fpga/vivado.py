"""``vp-edge overlay build``: what a user with Vivado needs to make ``vp.bit`` + ``vp.hwh``.

Writes ``vp_top.v`` (the exported RTL), ``package_ip.tcl`` (IP-XACT packaging of it as
``vp-edge:overlay:vp_top:1.0`` with its s_axi_control register map and its m_axi_gmem master),
``block_design.tcl`` (PS7 with M_AXI_GP0 -> the IP's s_axi_control, the IP's m_axi_gmem ->
S_AXI_HP0 at 64 bits so it reaches DDR, FCLK_CLK0 at the design clock, the interrupt to
IRQ_F2P, bitstream, ``vp.bit``/``vp.hwh`` copied out) and ``regs.json``. Vivado is not available
where this is developed: the scripts are generated and checked against the RTL's ports and
register map (tests/fpga/test_vivado.py), never run here.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from fpga.config import DEFAULT, Config
from fpga.rtl_ports import BEAT_BITS, REGS

PART = "xc7z020clg400-1"
BOARD = "tul.com.tw:pynq-z2:part0:1.0"
VLNV = "vp-edge:overlay:vp_top:1.0"

_PACKAGE = """\
# Package vp_top.v as an IP (run: vivado -mode batch -source package_ip.tcl)
create_project -force vp_ip ./vp_ip -part {part}
add_files -norecurse ./vp_top.v
set_property top vp_top [current_fileset]
update_compile_order -fileset sources_1
ipx::package_project -root_dir ./ip -vendor vp-edge -library overlay -taxonomy /UserIP -import_files
set core [ipx::current_core]
set_property name vp_top $core
set_property version 1.0 $core
ipx::infer_bus_interface ap_clk xilinx.com:signal:clock_rtl:1.0 $core
ipx::infer_bus_interface ap_rst_n xilinx.com:signal:reset_rtl:1.0 $core
ipx::infer_bus_interface interrupt xilinx.com:signal:interrupt_rtl:1.0 $core
ipx::associate_bus_interfaces -busif s_axi_control -clock ap_clk $core
ipx::associate_bus_interfaces -busif m_axi_gmem -clock ap_clk $core
set mm [ipx::get_memory_maps s_axi_control -of_objects $core]
set block [ipx::get_address_blocks -of_objects $mm]
set_property range 256 $block
{registers}
ipx::create_xgui_files $core
ipx::update_checksums $core
ipx::save_core $core
close_project
"""

_BD = """\
# Block design + bitstream (run after package_ip.tcl: vivado -mode batch -source block_design.tcl)
create_project -force vp ./vp -part {part}
catch {{set_property board_part {board} [current_project]}}
set_property ip_repo_paths ./ip [current_project]
update_ip_catalog
create_bd_design vp
create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7:5.5 ps7
apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
    -config {{make_external "FIXED_IO, DDR" apply_board_preset "1"}} [get_bd_cells ps7]
set_property -dict [list CONFIG.PCW_USE_S_AXI_HP0 {{1}} CONFIG.PCW_S_AXI_HP0_DATA_WIDTH {{{beat}}} \
    CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ {{{mhz}}} CONFIG.PCW_USE_FABRIC_INTERRUPT {{1}} \
    CONFIG.PCW_IRQ_F2P_INTR {{1}}] [get_bd_cells ps7]
create_bd_cell -type ip -vlnv {vlnv} vp_top_0
apply_bd_automation -rule xilinx.com:bd_rule:axi4 \
    -config {{Master "/ps7/M_AXI_GP0" Clk "/ps7/FCLK_CLK0 ({mhz} MHz)"}} \
    [get_bd_intf_pins vp_top_0/s_axi_control]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 \
    -config {{Master "/vp_top_0/m_axi_gmem" Slave "/ps7/S_AXI_HP0" \
              Clk "/ps7/FCLK_CLK0 ({mhz} MHz)"}} \
    [get_bd_intf_pins ps7/S_AXI_HP0]
connect_bd_net [get_bd_pins vp_top_0/interrupt] [get_bd_pins ps7/IRQ_F2P]
assign_bd_address
validate_bd_design
save_bd_design
make_wrapper -files [get_files ./vp/vp.srcs/sources_1/bd/vp/vp.bd] -top
add_files -norecurse ./vp/vp.gen/sources_1/bd/vp/hdl/vp_wrapper.v
set_property top vp_wrapper [current_fileset]
launch_runs impl_1 -to_step write_bitstream -jobs 4
wait_on_run impl_1
file copy -force ./vp/vp.runs/impl_1/vp_wrapper.bit ./vp.bit
file copy -force ./vp/vp.gen/sources_1/bd/vp/hw_handoff/vp.hwh ./vp.hwh
"""


def _register_tcl() -> str:
    lines = []
    for name, off in REGS.items():
        lines.append(f"set r [ipx::add_register {name} $block]")
        lines.append(f"set_property address_offset 0x{off:02X} $r")
        lines.append("set_property size 32 $r")
    return "\n".join(lines)


def write_build(out: Path, cfg: Config = DEFAULT) -> dict:
    """Write the Verilog, the IP packaging and block design scripts and the register map."""
    from fpga.verilog import export_verilog

    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(export_verilog(cfg, "vp_top"), out / "vp_top.v")
    (out / "package_ip.tcl").write_text(_PACKAGE.format(part=PART, registers=_register_tcl()))
    mhz = f"{cfg.clock_mhz:g}"
    bd = _BD.format(part=PART, board=BOARD, vlnv=VLNV, mhz=mhz, beat=BEAT_BITS)
    (out / "block_design.tcl").write_text(bd)
    regs = {
        "ip": "vp_top",
        "vlnv": VLNV,
        "clock_mhz": cfg.clock_mhz,
        "lanes": cfg.lanes,
        "registers": {k: f"0x{v:02X}" for k, v in REGS.items()},
        "master": {"port": "m_axi_gmem", "to": "S_AXI_HP0", "data_bits": BEAT_BITS},
    }
    (out / "regs.json").write_text(json.dumps(regs, indent=2) + "\n")
    files = sorted(p.name for p in out.iterdir())
    return {
        "out": str(out),
        "files": files,
        "ports": top_ports(out / "vp_top.v"),
        "ran_vivado": False,
    }


def top_ports(verilog: Path) -> list[str]:
    """The port names of module vp_top in an exported Verilog file."""
    text = verilog.read_text()
    body = text[text.index("module vp_top(") :]
    body = body[: body.index(");")]
    return sorted(re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)\b", body[len("module vp_top(") :]))
