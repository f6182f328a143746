"""The overlay's core: layer sequencer, 16 x 16 int8 MAC array, requantisation lanes, memories,
and the AXI master that moves a model and each input in and the output out.

Layer-sequential: the sequencer reads a layer's descriptor from PROG (fpga/program.py writes it),
then emits one *tap* a cycle, no stalls: the ACT word of ``lanes`` input channels at one kernel
position, the WGT word of ``lanes x lanes`` weights, the QNT word of the output channel group.

    DDR -> AXI master -> PROG/WGT/QNT/ACT (BRAM) -> sequencer -> x[j], w[j][l] -> 16x16 products
    (128 DSP48E1, two int8 MACs each) -> lane sums -> accumulators -> 16 requant lanes -> ACT
    -> AXI master -> DDR

CONV_2D / FULLY_CONNECTED sum all lanes x lanes products (x[j] * w[j][l]); DEPTHWISE_CONV_2D and
MEAN use the diagonal (x[l] * w[t][l], or * 1 for MEAN); ADD runs three requantisations per word
through the same lanes (TFLite's int8 ADD). A tap outside the image reads the input zero point,
as the C engine's kernels do (the bias is folded for it at pack time).
"""

from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from fpga.config import DEFAULT, DESC_WORDS, Config
from fpga.program import FIELDS, MODES
from fpga.rtl.datapath import add_states, datapath
from fpga.rtl.dma import Dma, axi_master_ports
from fpga.rtl.requant import LATENCY, Requant
from fpga.rtl.sequencer import advance
from fpga.rtl_ports import ARGS, SEL

#: the sequencer's counters (loop nest oy, ox, og, ky, kx, icg; pointers kept incremental)
COUNTERS = "oy ox og ky kx icg tap wptr gcount".split()
POINTERS = "rowp colp tyo txo".split()
OFFSETS = "y0 x0 kyo kxo".split()


class VpCore(wiring.Component):
    def __init__(self, cfg: Config = DEFAULT) -> None:
        self.cfg = cfg
        sig = {"start": In(1), "busy": Out(1), "done": Out(1), "cycles": Out(32)}
        sig |= {"move_cycles": Out(32)} | {a: In(32) for a in ARGS}
        super().__init__(sig | axi_master_ports())

    def elaborate(self, platform: object) -> Module:
        m = Module()
        cfg = self.cfg
        mems = {
            "prog": Memory(shape=32, depth=cfg.prog_layers * DESC_WORDS, init=[]),
            "act": Memory(shape=cfg.act_bits, depth=cfg.act_words, init=[]),
            "wgt": Memory(shape=cfg.wgt_bits, depth=cfg.wgt_words, init=[]),
            "qnt": Memory(shape=cfg.qnt_bits, depth=cfg.qnt_words, init=[]),
        }
        for name, mem in mems.items():
            m.submodules[name] = mem
        rd = {k: mem.read_port() for k, mem in mems.items()}
        wr = {k: mem.write_port() for k, mem in mems.items()}
        f = {name: Signal(signed(32), name=f"f_{name}") for name in FIELDS}
        dma = self._dma(m, wr, rd)
        lanes, rq, tag_addr, tag_write = self._requant_lanes(m)
        c = {k: Signal(16, name=k) for k in COUNTERS}
        c |= {k: Signal(signed(32), name=k) for k in POINTERS}
        c |= {k: Signal(signed(17), name=k) for k in OFFSETS}
        c["drain"], c["ai"] = Signal(8), Signal(16)
        emit = Signal()
        dwlike = f["mode"] != MODES["conv"]
        iy, ix = c["y0"] + c["kyo"], c["x0"] + c["kxo"]
        in_img = (iy >= 0) & (iy < f["ih"]) & (ix >= 0) & (ix < f["iw"])
        c["tap_addr"] = (
            c["rowp"] + c["colp"] + c["tyo"] + c["txo"] + c["icg"] + Mux(dwlike, c["og"], 0)
        )[:16]
        first = (c["ky"] == 0) & (c["kx"] == 0) & (c["icg"] == 0)
        c["last"] = last = (
            (c["ky"] == f["kh"] - 1) & (c["kx"] == f["kw"] - 1) & (c["icg"] == f["icg"] - 1)
        )
        wsel = Mux(f["mode"] == MODES["dw"], f["w_base"] + c["og"], c["wptr"])
        m.d.comb += [rd["wgt"].addr.eq(wsel), rd["qnt"].addr.eq(f["q_base"] + c["og"])]
        with m.If(~dma.busy):
            m.d.comb += [
                wr["act"].addr.eq(tag_addr[-1]),
                wr["act"].data.eq(Cat(lane.q for lane in lanes)),
                wr["act"].en.eq(lanes[0].out_valid & tag_write[-1]),
            ]
        datapath(m, cfg, rd, f, emit, in_img, first, last, c["tap"], c["gcount"], lanes, rq)
        with m.If(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        with m.If(dma.busy):
            m.d.sync += self.move_cycles.eq(self.move_cycles + 1)
        with m.FSM():
            self._control_states(m, dma, rd, f)
            self._run_states(m, f, c, rd, emit)
            add_states(m, cfg, f, rd, lanes, c, rq, tag_write[-1])
        return m

    def _dma(self, m: Module, wr: dict, rd: dict) -> Dma:
        """The AXI master, its ports passed through, writing every memory while it moves data."""
        m.submodules.dma = dma = Dma(self.cfg)
        m.d.comb += [getattr(dma, a).eq(getattr(self, a)) for a in ARGS[1:]]
        for name, member in axi_master_ports().items():
            if member.flow == wiring.Flow.Out:
                m.d.comb += getattr(self, name).eq(getattr(dma, name))
            else:
                m.d.comb += getattr(dma, name).eq(getattr(self, name))
        for name, i in SEL.items():
            port = [
                wr[name].addr.eq(dma.wr_addr),
                wr[name].data.eq(dma.word(i)),
                wr[name].en.eq(dma.wr_en & (dma.wr_sel == i)),
            ]
            if name == "act":
                with m.If(dma.busy):
                    m.d.comb += port
            else:
                m.d.comb += port
        m.d.comb += [rd["act"].addr.eq(dma.act_addr), dma.act_data.eq(rd["act"].data)]
        return dma

    def _requant_lanes(self, m: Module) -> tuple[list, tuple, list, list]:
        """``lanes`` requantisation lanes fed from shared registers (the rq tuple), and the
        write-back tags (address, write) that travel beside them."""
        n = self.cfg.lanes
        lanes = [Requant() for _ in range(n)]
        for i, lane in enumerate(lanes):
            m.submodules[f"rq{i}"] = lane
        rq_valid, rq_single, rq_write = Signal(), Signal(), Signal()
        rq_zp, rq_lo, rq_hi = Signal(signed(16)), Signal(signed(9)), Signal(signed(9))
        rq_acc = [Signal(signed(32), name=f"rq_acc{i}") for i in range(n)]
        rq_mult = [Signal(signed(32), name=f"rq_mult{i}") for i in range(n)]
        rq_shift = [Signal(signed(8), name=f"rq_shift{i}") for i in range(n)]
        rq_addr = Signal(16)
        m.d.sync += rq_valid.eq(0)
        for i, lane in enumerate(lanes):
            m.d.comb += [
                lane.valid.eq(rq_valid),
                lane.acc.eq(rq_acc[i]),
                lane.mult.eq(rq_mult[i]),
                lane.shift.eq(rq_shift[i]),
                lane.single.eq(rq_single),
                lane.zp.eq(rq_zp),
                lane.lo.eq(rq_lo),
                lane.hi.eq(rq_hi),
            ]
        tag_addr = [Signal(16, name=f"tag_addr{i}") for i in range(LATENCY)]
        tag_write = [Signal(name=f"tag_write{i}") for i in range(LATENCY)]
        m.d.sync += [tag_addr[0].eq(rq_addr), tag_write[0].eq(rq_write & rq_valid)]
        for i in range(1, LATENCY):
            m.d.sync += [tag_addr[i].eq(tag_addr[i - 1]), tag_write[i].eq(tag_write[i - 1])]
        rq = (rq_valid, rq_single, rq_write, rq_zp, rq_lo, rq_hi, rq_acc, rq_mult, rq_shift)
        return lanes, (*rq, rq_addr), tag_addr, tag_write

    def _control_states(self, m: Module, dma: Dma, rd: dict, f: dict) -> None:
        """IDLE -> MOVE_IN (the master reads) -> per layer LOAD (descriptor) -> SETUP -> RUN or
        ADD_* -> DRAIN -> ... -> MOVE_OUT (the master writes the output) -> IDLE."""
        layer, pbase, k = Signal(16), Signal(16), Signal(8)
        self._seq = {"layer": layer, "pbase": pbase, "k": k}
        m.d.comb += rd["prog"].addr.eq(pbase + k)
        with m.State("IDLE"):
            with m.If(self.start):
                m.d.comb += dma.load.eq(1)
                m.d.sync += [self.cycles.eq(0), self.move_cycles.eq(0)]
                m.d.sync += [self.busy.eq(1), self.done.eq(0)]
                m.d.sync += [layer.eq(0), pbase.eq(0), k.eq(0)]
                m.next = "MOVE_IN"
        with m.State("MOVE_IN"):
            with m.If(~dma.busy):
                m.next = "MOVE_OUT"
                with m.If(self.n_layers != 0):
                    m.next = "LOAD"
        with m.State("LOAD"):
            with m.Switch(k):
                for i, name in enumerate(FIELDS):
                    with m.Case(i + 1):
                        m.d.sync += f[name].eq(rd["prog"].data.as_signed())
            m.d.sync += k.eq(k + 1)
            with m.If(k == len(FIELDS)):
                m.next = "SETUP"
        with m.State("MOVE_OUT"):
            m.d.comb += dma.store.eq(1)
            m.next = "MOVE_WAIT"
        with m.State("MOVE_WAIT"):
            with m.If(~dma.busy):
                m.d.sync += [self.busy.eq(0), self.done.eq(1)]
                m.next = "IDLE"

    def _run_states(self, m: Module, f: dict, c: dict, rd: dict, emit: Signal) -> None:
        """SETUP (counters to the layer's start), RUN (a tap a cycle), DRAIN (to the next)."""
        layer, pbase, k = self._seq["layer"], self._seq["pbase"], self._seq["k"]
        with m.State("SETUP"):
            zero = [c[n].eq(0) for n in ("oy ox og ky kx icg tap tyo txo kyo kxo gcount".split())]
            m.d.sync += zero + [c["y0"].eq(-f["pt"]), c["x0"].eq(-f["pl"])]
            m.d.sync += [c["rowp"].eq(f["row0"]), c["colp"].eq(f["col0"])]
            m.d.sync += [c["wptr"].eq(f["w_base"]), c["ai"].eq(0)]
            m.next = "RUN"
            with m.If(f["mode"] == MODES["add"]):
                m.next = "ADD_RD1"
        with m.State("RUN"):
            m.d.comb += [emit.eq(1), rd["act"].addr.eq(c["tap_addr"])]
            advance(m, f, c)
        with m.State("DRAIN"):
            m.d.sync += c["drain"].eq(c["drain"] - 1)
            with m.If(c["drain"] == 0):
                m.d.sync += [layer.eq(layer + 1), pbase.eq(pbase + DESC_WORDS), k.eq(0)]
                m.next = "LOAD"
                with m.If(layer + 1 == self.n_layers):
                    m.next = "MOVE_OUT"
