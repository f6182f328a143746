"""``vp_top``: the core behind an AXI4-Lite control port with the Vitis HLS ``ap_ctrl`` layout,
so PYNQ's ``DefaultIP.read/write`` / ``register_map`` drive it as they drive HLS IP.

Ports are named as Vivado infers interfaces from them (UG994): ``s_axi_control_*``, ``ap_clk``,
``ap_rst_n``, ``interrupt``, and the data master ``m_axi_gmem_*`` (to the PS7's S_AXI_HP0) that
reads the model and each input from DDR and writes the output back (fpga/rtl/dma.py). The
arguments from 0x10 (fpga/rtl_ports.py ``ARGS``) say where in DDR and how many words.
"""

from amaranth import ClockDomain, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fpga.config import DEFAULT, Config
from fpga.rtl.core import VpCore
from fpga.rtl.dma import axi_master_ports
from fpga.rtl_ports import ARGS, REGS

ADDR_BITS = 8


class VpTop(wiring.Component):
    def __init__(self, cfg: Config = DEFAULT) -> None:
        self.cfg = cfg
        p = "s_axi_control_"
        super().__init__(
            {
                "ap_clk": In(1),
                "ap_rst_n": In(1),
                "interrupt": Out(1),
                p + "AWADDR": In(ADDR_BITS),
                p + "AWVALID": In(1),
                p + "AWREADY": Out(1),
                p + "WDATA": In(32),
                p + "WSTRB": In(4),
                p + "WVALID": In(1),
                p + "WREADY": Out(1),
                p + "BRESP": Out(2),
                p + "BVALID": Out(1),
                p + "BREADY": In(1),
                p + "ARADDR": In(ADDR_BITS),
                p + "ARVALID": In(1),
                p + "ARREADY": Out(1),
                p + "RDATA": Out(32),
                p + "RRESP": Out(2),
                p + "RVALID": Out(1),
                p + "RREADY": In(1),
            }
            | axi_master_ports()
        )

    def _p(self, name: str) -> Signal:
        return getattr(self, "s_axi_control_" + name)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.domains.sync = cd = ClockDomain("sync")
        m.d.comb += [cd.clk.eq(self.ap_clk), cd.rst.eq(~self.ap_rst_n)]
        m.submodules.core = core = VpCore(self.cfg)
        p = self._p
        done, ready, auto, gie, ier, isr = (
            Signal(name=n) for n in "done ready auto gie ier isr".split()
        )
        regs = {k: Signal(32, name=f"r_{k}") for k in ARGS}
        m.d.comb += [getattr(core, k).eq(regs[k]) for k in ARGS]
        m.d.comb += self.interrupt.eq(gie & ier & isr)
        for name, member in axi_master_ports().items():
            if member.flow == wiring.Flow.Out:
                m.d.comb += getattr(self, name).eq(getattr(core, name))
            else:
                m.d.comb += getattr(core, name).eq(getattr(self, name))
        # core finishing: ap_done / ap_ready until read, ISR bit 0; auto-restart starts again
        was_busy = Signal()
        m.d.sync += was_busy.eq(core.busy)
        finished = was_busy & ~core.busy
        with m.If(finished):
            m.d.sync += [done.eq(1), ready.eq(1), isr.eq(isr | ier)]
        # ---- write channel ----
        aw, w = Signal(ADDR_BITS), Signal(32)
        m.d.comb += [p("BRESP").eq(0), p("RRESP").eq(0)]
        start = Signal()
        m.d.comb += core.start.eq(start | (auto & finished))
        with m.If(p("AWVALID") & p("WVALID") & ~p("BVALID") & ~p("AWREADY")):
            m.d.sync += [
                p("AWREADY").eq(1),
                p("WREADY").eq(1),
                aw.eq(p("AWADDR")),
                w.eq(p("WDATA")),
            ]
        with m.Else():
            m.d.sync += [p("AWREADY").eq(0), p("WREADY").eq(0)]
        with m.If(p("AWREADY")):
            m.d.sync += p("BVALID").eq(1)
            self._write(m, aw, w, core, regs, start, auto, gie, ier, isr)
        with m.If(p("BVALID") & p("BREADY")):
            m.d.sync += p("BVALID").eq(0)
        # ---- read channel ----
        with m.If(p("ARVALID") & ~p("RVALID") & ~p("ARREADY")):
            m.d.sync += [p("ARREADY").eq(1), p("RVALID").eq(1)]
            m.d.sync += p("RDATA").eq(
                self._read(m, p("ARADDR"), core, regs, done, ready, auto, gie, ier, isr)
            )
            with m.If(p("ARADDR") == REGS["CTRL"]):  # ap_done and ap_ready clear on read
                m.d.sync += [done.eq(finished), ready.eq(finished)]
        with m.Else():
            m.d.sync += p("ARREADY").eq(0)
        with m.If(p("RVALID") & p("RREADY") & ~p("ARREADY")):
            m.d.sync += p("RVALID").eq(0)
        return m

    def _write(
        self,
        m: Module,
        aw: Signal,
        w: Signal,
        core: VpCore,
        regs: dict,
        start: Signal,
        auto: Signal,
        gie: Signal,
        ier: Signal,
        isr: Signal,
    ) -> None:
        with m.Switch(aw):
            with m.Case(REGS["CTRL"]):
                m.d.comb += start.eq(w[0] & ~core.busy)
                m.d.sync += auto.eq(w[7])
            with m.Case(REGS["GIE"]):
                m.d.sync += gie.eq(w[0])
            with m.Case(REGS["IER"]):
                m.d.sync += ier.eq(w[0])
            with m.Case(REGS["ISR"]):
                m.d.sync += isr.eq(isr ^ w[0])  # toggle on write, as HLS
            for name in regs:
                with m.Case(REGS[name.upper()]):
                    m.d.sync += regs[name].eq(w)

    def _read(
        self,
        m: Module,
        ar: Signal,
        core: VpCore,
        regs: dict,
        done: Signal,
        ready: Signal,
        auto: Signal,
        gie: Signal,
        ier: Signal,
        isr: Signal,
    ) -> Signal:
        data = Signal(32)
        ctrl = Signal(32)
        m.d.comb += ctrl.eq(
            core.busy | (done << 1) | (~core.busy << 2) | (ready << 3) | (auto << 7)
        )
        with m.Switch(ar):
            with m.Case(REGS["CTRL"]):
                m.d.comb += data.eq(ctrl)
            with m.Case(REGS["GIE"]):
                m.d.comb += data.eq(gie)
            with m.Case(REGS["IER"]):
                m.d.comb += data.eq(ier)
            with m.Case(REGS["ISR"]):
                m.d.comb += data.eq(isr)
            with m.Case(REGS["CYCLES"]):
                m.d.comb += data.eq(core.cycles)
            with m.Case(REGS["MOVE_CYCLES"]):
                m.d.comb += data.eq(core.move_cycles)
            with m.Case(REGS["LANES"]):
                m.d.comb += data.eq(self.cfg.lanes)
            for name in regs:
                with m.Case(REGS[name.upper()]):
                    m.d.comb += data.eq(regs[name])
        return data
