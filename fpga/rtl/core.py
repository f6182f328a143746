"""The overlay's core: layer sequencer, 16 x 16 int8 MAC array, requantisation lanes, memories.

Layer-sequential: the sequencer reads a layer's descriptor from PROG (fpga/program.py writes it),
then emits one *tap* a cycle, no stalls: the ACT word of ``lanes`` input channels at one kernel
position, the WGT word of ``lanes x lanes`` weights, the QNT word of the output channel group.

    PROG -> sequencer -> addr -> ACT/WGT/QNT (BRAM) -> x[j], w[j][l] -> 16x16 products (128 DSP48E1,
    two int8 MACs each) -> lane sums -> accumulators -> 16 requant lanes -> ACT write port

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
from fpga.rtl.datapath import DRAIN, add_states, datapath
from fpga.rtl.requant import LATENCY, Requant
from fpga.rtl_ports import SEL


class VpCore(wiring.Component):
    def __init__(self, cfg: Config = DEFAULT) -> None:
        self.cfg = cfg
        super().__init__(
            {
                "start": In(1),
                "n_layers": In(16),
                "busy": Out(1),
                "done": Out(1),
                "cycles": Out(32),
                "ld_sel": In(2),
                "ld_addr": In(16),
                "ld_data": In(32),
                "ld_push": In(1),
                "ld_commit": In(1),
                "hr_addr": In(16),
                "hr_data": Out(cfg.act_bits),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m = Module()
        cfg, n = self.cfg, self.cfg.lanes
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
        self._loader(m, wr)
        m.d.comb += self.hr_data.eq(rd["act"].data)

        # ---- sequencer state ----
        layer, pbase, k = Signal(16), Signal(16), Signal(8)
        oy, ox, og, ky, kx, icg, tap = (
            Signal(16, name=s) for s in "oy ox og ky kx icg tap".split()
        )
        y0, x0, kyo, kxo = (Signal(signed(17), name=s) for s in ("y0", "x0", "kyo", "kxo"))
        rowp, colp, tyo, txo = (Signal(signed(32), name=s) for s in ("rowp", "colp", "tyo", "txo"))
        wptr, gcount, drain = Signal(16), Signal(16), Signal(8)
        emit = Signal()
        dwlike = f["mode"] != MODES["conv"]
        iy, ix = y0 + kyo, x0 + kxo
        in_img = (iy >= 0) & (iy < f["ih"]) & (ix >= 0) & (ix < f["iw"])
        tap_addr = (rowp + colp + tyo + txo + icg + Mux(dwlike, og, 0))[:16]
        first = (ky == 0) & (kx == 0) & (icg == 0)
        last = (ky == f["kh"] - 1) & (kx == f["kw"] - 1) & (icg == f["icg"] - 1)
        m.d.comb += [
            rd["prog"].addr.eq(pbase + k),
            rd["wgt"].addr.eq(Mux(f["mode"] == MODES["dw"], f["w_base"] + og, wptr)),
            rd["qnt"].addr.eq(f["q_base"] + og),
        ]
        # ---- requantisation lanes and their shared write-back tags ----
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
        out_valid = lanes[0].out_valid
        with m.If(self.busy):
            m.d.comb += [
                wr["act"].addr.eq(tag_addr[-1]),
                wr["act"].data.eq(Cat(lane.q for lane in lanes)),
                wr["act"].en.eq(out_valid & tag_write[-1]),
            ]

        datapath(
            m,
            cfg,
            rd,
            f,
            emit,
            in_img,
            first,
            last,
            tap,
            gcount,
            lanes,
            (
                rq_valid,
                rq_single,
                rq_write,
                rq_zp,
                rq_lo,
                rq_hi,
                rq_acc,
                rq_mult,
                rq_shift,
                rq_addr,
            ),
        )

        # ---- the layer sequencer ----
        with m.If(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        ai, got = Signal(16), Signal(2)
        x1, x2 = Signal(cfg.act_bits), Signal(cfg.act_bits)
        s1 = [Signal(signed(32), name=f"add_s1_{i}") for i in range(n)]
        s2 = [Signal(signed(32), name=f"add_s2_{i}") for i in range(n)]
        m.d.comb += rd["act"].addr.eq(self.hr_addr)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [
                        layer.eq(0),
                        pbase.eq(0),
                        k.eq(0),
                        self.cycles.eq(0),
                        self.busy.eq(self.n_layers != 0),
                        self.done.eq(self.n_layers == 0),
                    ]
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
            with m.State("SETUP"):
                m.d.sync += [
                    oy.eq(0),
                    ox.eq(0),
                    og.eq(0),
                    ky.eq(0),
                    kx.eq(0),
                    icg.eq(0),
                    tap.eq(0),
                    y0.eq(-f["pt"]),
                    x0.eq(-f["pl"]),
                    kyo.eq(0),
                    kxo.eq(0),
                    rowp.eq(f["row0"]),
                    colp.eq(f["col0"]),
                    tyo.eq(0),
                    txo.eq(0),
                    wptr.eq(f["w_base"]),
                    gcount.eq(0),
                    ai.eq(0),
                ]
                m.next = "RUN"
                with m.If(f["mode"] == MODES["add"]):
                    m.next = "ADD_RD1"
            with m.State("RUN"):
                m.d.comb += [emit.eq(1), rd["act"].addr.eq(tap_addr)]
                self._advance(
                    m,
                    f,
                    dict(
                        oy=oy,
                        ox=ox,
                        og=og,
                        ky=ky,
                        kx=kx,
                        icg=icg,
                        tap=tap,
                        y0=y0,
                        x0=x0,
                        kyo=kyo,
                        kxo=kxo,
                        rowp=rowp,
                        colp=colp,
                        tyo=tyo,
                        txo=txo,
                        wptr=wptr,
                        gcount=gcount,
                        last=last,
                        drain=drain,
                    ),
                )
            add_states(
                m,
                cfg,
                f,
                rd,
                ai,
                got,
                x1,
                x2,
                s1,
                s2,
                lanes,
                drain,
                (
                    rq_valid,
                    rq_single,
                    rq_write,
                    rq_zp,
                    rq_lo,
                    rq_hi,
                    rq_acc,
                    rq_mult,
                    rq_shift,
                    rq_addr,
                ),
                tag_write[-1],
            )
            with m.State("DRAIN"):
                m.d.sync += drain.eq(drain - 1)
                with m.If(drain == 0):
                    m.d.sync += [layer.eq(layer + 1), pbase.eq(pbase + DESC_WORDS), k.eq(0)]
                    with m.If(layer + 1 == self.n_layers):
                        m.d.sync += [self.busy.eq(0), self.done.eq(1)]
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "LOAD"
        return m

    def _loader(self, m: Module, wr: dict) -> None:
        """Host loading: ``ld_push`` shifts 32 bits into a staging word (first pushed = lowest
        bits), ``ld_commit`` writes its top ``width`` bits to memory ``ld_sel`` at ``ld_addr``."""
        widths = {
            "prog": 32,
            "wgt": self.cfg.wgt_bits,
            "qnt": self.cfg.qnt_bits,
            "act": self.cfg.act_bits,
        }
        top = max(widths.values())
        stage = Signal(top)
        with m.If(self.ld_push):
            m.d.sync += stage.eq(Cat(stage[32:], self.ld_data))
        for name, bits in widths.items():
            en = self.ld_commit & (self.ld_sel == SEL[name]) & ~self.busy
            m.d.comb += [
                wr[name].addr.eq(self.ld_addr),
                wr[name].data.eq(stage[top - bits :]),
                wr[name].en.eq(en),
            ]

    def _advance(self, m: Module, f: dict, c: dict) -> None:
        """One tap step of the loop nest oy, ox, og, ky, kx, icg (all counters incremental)."""
        conv = f["mode"] == MODES["conv"]
        m.d.sync += c["wptr"].eq(c["wptr"] + conv)
        with m.If(c["icg"] != f["icg"] - 1):
            m.d.sync += c["icg"].eq(c["icg"] + 1)
        with m.Else():
            m.d.sync += c["icg"].eq(0)
            with m.If(c["kx"] != f["kw"] - 1):
                m.d.sync += [
                    c["kx"].eq(c["kx"] + 1),
                    c["kxo"].eq(c["kxo"] + f["dw"]),
                    c["txo"].eq(c["txo"] + f["dw_pix"]),
                    c["tap"].eq(c["tap"] + 1),
                ]
            with m.Else():
                m.d.sync += [c["kx"].eq(0), c["kxo"].eq(0), c["txo"].eq(0)]
                with m.If(c["ky"] != f["kh"] - 1):
                    m.d.sync += [
                        c["ky"].eq(c["ky"] + 1),
                        c["kyo"].eq(c["kyo"] + f["dh"]),
                        c["tyo"].eq(c["tyo"] + f["dh_row"]),
                        c["tap"].eq(c["tap"] + 1),
                    ]
                with m.Else():
                    m.d.sync += [
                        c["ky"].eq(0),
                        c["kyo"].eq(0),
                        c["tyo"].eq(0),
                        c["tap"].eq(0),
                        c["gcount"].eq(c["gcount"] + 1),
                    ]
                    self._advance_pixel(m, f, c)

    def _advance_pixel(self, m: Module, f: dict, c: dict) -> None:
        with m.If(c["og"] != f["ocg"] - 1):
            m.d.sync += c["og"].eq(c["og"] + 1)
        with m.Else():
            m.d.sync += [c["og"].eq(0), c["wptr"].eq(f["w_base"])]
            with m.If(c["ox"] != f["ow"] - 1):
                m.d.sync += [
                    c["ox"].eq(c["ox"] + 1),
                    c["x0"].eq(c["x0"] + f["sw"]),
                    c["colp"].eq(c["colp"] + f["sw_pix"]),
                ]
            with m.Else():
                m.d.sync += [c["ox"].eq(0), c["x0"].eq(-f["pl"]), c["colp"].eq(f["col0"])]
                with m.If(c["oy"] != f["oh"] - 1):
                    m.d.sync += [
                        c["oy"].eq(c["oy"] + 1),
                        c["y0"].eq(c["y0"] + f["sh"]),
                        c["rowp"].eq(c["rowp"] + f["sh_row"]),
                    ]
                with m.Else():
                    m.d.sync += c["drain"].eq(DRAIN)
                    m.next = "DRAIN"
