"""The overlay's AXI master (``m_axi_gmem``, for the PS7's S_AXI_HP0: 64-bit data at the design
clock, AXI3-sized bursts of at most 16 beats, at most ``MAX_READS`` bursts in flight).

Before the layers run it reads up to four segments from DDR into the on-chip memories, in this
order: the program, the weights, the requantisation words (a model's, once: a segment of 0
words is skipped) and the input activations; after them it writes the output activations back.
A memory word is ``ceil(bits / 64)`` beats in DDR, little-endian, its bits at the low end
(a 32-bit program word takes one beat). Segment addresses are 128-byte aligned (the host's
layout: a 16-beat burst never crosses a 4 KB page, as AXI requires).
"""

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fpga.config import DEFAULT, Config
from fpga.rtl_ports import BEAT_BITS, BURST_BEATS, READ_SEGMENTS

#: read bursts the master keeps in flight (HP0 accepts 8; 4 x 16 beats cover 64 cycles of
#: latency at one beat a cycle)
MAX_READS = 4
P = "m_axi_gmem_"


def axi_master_ports() -> dict:
    """The AXI master's ports as a signature dict (the same names on ``vp_core`` and ``vp_top``)."""
    a = {"ARADDR": 32, "ARLEN": 8, "ARSIZE": 3, "ARBURST": 2, "ARVALID": 1}
    a |= {"RREADY": 1, "AWADDR": 32, "AWLEN": 8, "AWSIZE": 3, "AWBURST": 2, "AWVALID": 1}
    a |= {"WDATA": BEAT_BITS, "WSTRB": BEAT_BITS // 8, "WLAST": 1, "WVALID": 1, "BREADY": 1}
    b = {"ARREADY": 1, "RDATA": BEAT_BITS, "RRESP": 2, "RLAST": 1, "RVALID": 1}
    b |= {"AWREADY": 1, "WREADY": 1, "BRESP": 2, "BVALID": 1}
    return {P + k: Out(w) for k, w in a.items()} | {P + k: In(w) for k, w in b.items()}


def beats_per_word(bits: int) -> int:
    return -(-bits // BEAT_BITS)


class Dma(wiring.Component):
    """``load`` (pulse): read the segments; ``store`` (pulse): write ``out_words`` ACT words.
    The memory side: ``wr_sel``/``wr_addr``/``wr_data``/``wr_en`` (a whole word), ``act_addr``
    for the ACT read port (its data in ``act_data`` a cycle later)."""

    def __init__(self, cfg: Config = DEFAULT) -> None:
        self.cfg = cfg
        self.widths = [32, cfg.wgt_bits, cfg.qnt_bits, cfg.act_bits]  # READ_SEGMENTS order
        sig = {"load": In(1), "store": In(1), "busy": Out(1)}
        for seg in READ_SEGMENTS:
            sig |= {f"{seg}_addr": In(32), f"{seg}_words": In(32)}
        sig |= {"in_base": In(16), "out_addr": In(32), "out_words": In(32), "out_base": In(16)}
        sig |= {"wr_sel": Out(2), "wr_addr": Out(16), "wr_en": Out(1)}
        sig |= {"wr_data": Out(BEAT_BITS * max(map(beats_per_word, self.widths)))}
        sig |= {"act_addr": Out(16), "act_data": In(cfg.act_bits)}
        super().__init__(sig | axi_master_ports())

    def word(self, index: int) -> object:
        """The memory word of read segment ``index`` in ``wr_data``: the low bits of its beats."""
        top, bits = len(self.wr_data), self.widths[index]
        lo = top - BEAT_BITS * beats_per_word(bits)
        return self.wr_data[lo : lo + bits]

    def _p(self, name: str) -> Signal:
        return getattr(self, P + name)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        p = self._p
        m.d.comb += [p("ARSIZE").eq(3), p("AWSIZE").eq(3), p("ARBURST").eq(1), p("AWBURST").eq(1)]
        m.d.comb += p("WSTRB").eq(Const(-1, BEAT_BITS // 8))
        seg = Signal(3)
        self._rd = {k: Signal(32, name=f"rd_{k}") for k in ("ar_addr", "ar_left", "r_left")}
        addrs = Array(getattr(self, f"{s}_addr") for s in READ_SEGMENTS)
        words = Array(getattr(self, f"{s}_words") for s in READ_SEGMENTS)
        bpw = [beats_per_word(b) for b in self.widths]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.load):
                    m.d.sync += [seg.eq(0), self.busy.eq(1)]
                    m.next = "SEGMENT"
                with m.Elif(self.store):
                    m.d.sync += self.busy.eq(1)
                    m.next = "STORE"
            with m.State("SEGMENT"):
                self._segment(m, seg, addrs, words, bpw)
            with m.State("READ"):
                self._read(m, seg, bpw)
            self._store_states(m)
        return m

    def _segment(self, m: Module, seg: Signal, addrs: Array, words: Array, bpw: list) -> None:
        """Set up the next non-empty segment (or finish once all four are read)."""
        beats = Mux(seg == 0, words[seg] * bpw[0], 0)
        for i in range(1, len(bpw)):
            beats = Mux(seg == i, words[seg] * bpw[i], beats)
        base = Mux(seg == len(bpw) - 1, self.in_base, 0)
        rd = self._rd
        with m.If(seg == len(bpw)):
            m.d.sync += self.busy.eq(0)
            m.next = "IDLE"
        with m.Elif(words[seg] == 0):
            m.d.sync += seg.eq(seg + 1)
        with m.Else():
            m.d.sync += [rd["ar_addr"].eq(addrs[seg]), rd["ar_left"].eq(beats)]
            m.d.sync += [rd["r_left"].eq(beats), self.wr_addr.eq(base - 1)]
            m.next = "READ"

    def _read(self, m: Module, seg: Signal, bpw: list) -> None:
        """Bursts out on AR while fewer than MAX_READS are in flight; beats in on R, shifted into
        the staging word; a full word goes to memory the next cycle."""
        p, rd = self._p, self._rd
        inflight, beat = Signal(range(MAX_READS + 1)), Signal(6)
        take = p("ARVALID") & p("ARREADY")
        got = p("RVALID") & p("RREADY")
        last = got & p("RLAST")
        m.d.sync += inflight.eq(inflight + take - last)
        n = Mux(rd["ar_left"] > BURST_BEATS, BURST_BEATS, rd["ar_left"])
        with m.If(take):
            m.d.sync += [p("ARVALID").eq(0), rd["ar_addr"].eq(rd["ar_addr"] + n * (BEAT_BITS // 8))]
            m.d.sync += rd["ar_left"].eq(rd["ar_left"] - n)
        with m.Elif(~p("ARVALID") & (rd["ar_left"] != 0) & (inflight < MAX_READS)):
            m.d.sync += [p("ARVALID").eq(1), p("ARADDR").eq(rd["ar_addr"]), p("ARLEN").eq(n - 1)]
        m.d.comb += p("RREADY").eq(1)
        top = len(self.wr_data)
        full = Mux(seg == 0, beat == bpw[0] - 1, 0)
        for i in range(1, len(bpw)):
            full = Mux(seg == i, beat == bpw[i] - 1, full)
        with m.If(got):
            m.d.sync += [self.wr_data.eq(Cat(self.wr_data[BEAT_BITS:top], p("RDATA")))]
            m.d.sync += [beat.eq(Mux(full, 0, beat + 1)), rd["r_left"].eq(rd["r_left"] - 1)]
            m.d.sync += [self.wr_en.eq(full), self.wr_sel.eq(seg)]
            with m.If(full):
                m.d.sync += self.wr_addr.eq(self.wr_addr + 1)
        with m.Else():
            m.d.sync += self.wr_en.eq(0)
        with m.If((rd["r_left"] == 0) & ~p("ARVALID")):
            m.d.sync += [seg.eq(seg + 1), self.wr_en.eq(0)]
            m.next = "SEGMENT"

    def _store_states(self, m: Module) -> None:
        """ACT words out, bursts of up to 16 beats: AW, the beats (a word's ACT read takes a
        cycle), then B before the next burst."""
        p, bpw = self._p, beats_per_word(self.cfg.act_bits)
        per = BURST_BEATS // bpw  # words a burst
        wi, left, addr, beat, inburst = (
            Signal(32, name=f"st_{k}") for k in "wi left addr beat inb".split()
        )
        m.d.comb += self.act_addr.eq(self.out_base + wi)
        with m.State("STORE"):
            m.d.sync += [wi.eq(0), left.eq(self.out_words), addr.eq(self.out_addr)]
            m.next = "AW"
        with m.State("AW"):
            n = Mux(left > per, per, left)
            with m.If(left == 0):
                m.d.sync += self.busy.eq(0)
                m.next = "IDLE"
            with m.Elif(~p("AWVALID")):
                m.d.sync += [p("AWVALID").eq(1), p("AWADDR").eq(addr), p("AWLEN").eq(n * bpw - 1)]
                m.d.sync += [inburst.eq(n), beat.eq(0)]
            with m.Elif(p("AWREADY")):
                m.d.sync += [p("AWVALID").eq(0), left.eq(left - n), addr.eq(addr + n * bpw * 8)]
                m.next = "W_FETCH"
        with m.State("W_FETCH"):  # the ACT read port shows word wi from the next cycle
            m.next = "W"
        with m.State("W"):
            padded = Signal(bpw * BEAT_BITS)
            m.d.comb += padded.eq(self.act_data)
            data = padded.word_select(beat[: max(1, (bpw - 1).bit_length())], BEAT_BITS)
            end = (beat == bpw - 1) & (inburst == 1)
            m.d.comb += [p("WVALID").eq(1), p("WDATA").eq(data), p("WLAST").eq(end)]
            with m.If(p("WREADY")):
                m.d.sync += beat.eq(Mux(beat == bpw - 1, 0, beat + 1))
                with m.If(beat == bpw - 1):
                    m.d.sync += [wi.eq(wi + 1), inburst.eq(inburst - 1)]
                    m.next = "W_FETCH"
                    with m.If(inburst == 1):
                        m.next = "B"
        with m.State("B"):
            m.d.comb += p("BREADY").eq(1)
            with m.If(p("BVALID")):
                m.next = "AW"
