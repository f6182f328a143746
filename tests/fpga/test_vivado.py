"""``vp-edge overlay build``'s files agree with the RTL: the exported vp_top has the AXI-named
ports Vivado infers interfaces from (the control slave and the 64-bit data master), the IP
packaging declares every register of the map the host uses, the block design wires what the
ports offer: the master to S_AXI_HP0 at its width. (Vivado itself is not run here.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import need_amaranth

from fpga.rtl_ports import BEAT_BITS, REGS

pytestmark = pytest.mark.slow  # exports the whole design to Verilog once (cached)

AXI = ["AWADDR", "AWVALID", "AWREADY", "WDATA", "WSTRB", "WVALID", "WREADY", "BRESP", "BVALID",
       "BREADY", "ARADDR", "ARVALID", "ARREADY", "RDATA", "RRESP", "RVALID", "RREADY"]  # fmt: skip
BURST = ["ARLEN", "ARSIZE", "ARBURST", "AWLEN", "AWSIZE", "AWBURST", "RLAST", "WLAST"]


def test_build_writes_consistent_vivado_inputs(tmp_path: Path) -> None:
    need_amaranth()
    from fpga.vivado import VLNV, write_build

    rep = write_build(tmp_path)
    assert rep["ran_vivado"] is False
    ports = set(rep["ports"])
    assert {"ap_clk", "ap_rst_n", "interrupt"} <= ports
    assert {f"s_axi_control_{s}" for s in AXI} <= ports
    assert not {"clk", "rst"} & ports  # the clock and reset are the HLS-named ones
    master = {f"m_axi_gmem_{s}" for s in AXI} | {f"m_axi_gmem_{s}" for s in BURST}
    assert master <= ports
    text = (tmp_path / "vp_top.v").read_text()
    for s in ("RDATA", "WDATA"):  # the data width the HP0 port is set to
        assert re.search(rf"\[{BEAT_BITS - 1}:0\] m_axi_gmem_{s}\b", text), s
    pkg = (tmp_path / "package_ip.tcl").read_text()
    declared = dict(re.findall(r"ipx::add_register (\w+) \$block\]\nset_property address_offset "
                               r"(0x[0-9A-F]+)", pkg))  # fmt: skip
    assert {k: int(v, 16) for k, v in declared.items()} == REGS
    assert "add_files -norecurse ./vp_top.v" in pkg and "-busif s_axi_control" in pkg
    assert "-busif m_axi_gmem -clock ap_clk" in pkg
    bd = (tmp_path / "block_design.tcl").read_text()
    assert VLNV in bd and "vp_top_0/s_axi_control" in bd and "vp_top_0/interrupt" in bd
    assert "PCW_FPGA0_PERIPHERAL_FREQMHZ {100}" in bd and "vp.hwh" in bd
    assert "PCW_USE_S_AXI_HP0 {1}" in bd and f"PCW_S_AXI_HP0_DATA_WIDTH {{{BEAT_BITS}}}" in bd
    assert 'Master "/vp_top_0/m_axi_gmem" Slave "/ps7/S_AXI_HP0"' in bd
    regs = json.loads((tmp_path / "regs.json").read_text())
    assert {k: int(v, 16) for k, v in regs["registers"].items()} == REGS
