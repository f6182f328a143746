"""The core's datapath (taps to requantisation lanes) and its ADD micro-sequence, as functions
that add to the core's Module (fpga/rtl/core.py owns the state, the sequencer and the memories)."""

from typing import Any

from amaranth import Array, Module, Mux, Signal, signed

from fpga.config import QNT_LANE_BITS, Config
from fpga.program import MODES
from fpga.rtl.requant import LATENCY

DRAIN = 4 + LATENCY + 4  # cycles from the last tap to its written result, with margin


def datapath(
    m: Module,
    cfg: Config,
    rd: dict,
    f: dict,
    emit: Signal,
    in_img: object,
    first: object,
    last: object,
    tap: Signal,
    gcount: Signal,
    lanes: list,
    rq: tuple,
) -> None:
    """Taps to accumulators: stage 1 memory words, stage 2 packed products, stage 3 lane
    sums, stage 4 accumulate and, on a group's last tap, hand the lanes to requantisation."""
    n = cfg.lanes
    s1 = {
        k: Signal(16 if k in ("tap", "out") else 1, name=f"s1_{k}")
        for k in ("go", "valid", "first", "last", "tap", "out")
    }
    m.d.sync += [
        s1["go"].eq(emit),
        s1["valid"].eq(in_img),
        s1["first"].eq(first),
        s1["last"].eq(last),
        s1["tap"].eq(tap),
        s1["out"].eq(f["out_base"] + gcount),
    ]
    conv, mean = f["mode"] == MODES["conv"], f["mode"] == MODES["mean"]
    act, wgt = rd["act"].data, rd["wgt"].data
    zp8 = f["in_zp"][:8].as_signed()
    xs = [Mux(s1["valid"], act[8 * j : 8 * j + 8].as_signed(), zp8) for j in range(n)]

    def wbyte(j: int, lane: int) -> object:
        return wgt[8 * (j * n + lane) : 8 * (j * n + lane) + 8].as_signed()

    def b(j: int, lane: int) -> object:
        if j != lane:
            return Mux(conv, wbyte(j, lane), 0)
        dsel = Array(wbyte(t, lane) for t in range(n))[s1["tap"][: max(1, (n - 1).bit_length())]]
        return Mux(conv, wbyte(j, lane), Mux(mean, 1, dsel))

    prods = _products(m, n, xs, b)
    s2 = {k: Signal(v.shape(), name=f"s2_{k}") for k, v in s1.items() if k != "tap"}
    s2_q = Signal(cfg.qnt_bits)
    m.d.sync += [s2[k].eq(s1[k]) for k in s2] + [s2_q.eq(rd["qnt"].data)]
    sums = _lane_sums(m, n, prods)
    s3 = {k: Signal(v.shape(), name=f"s3_{k}") for k, v in s2.items()}
    s3_q = Signal(cfg.qnt_bits)
    m.d.sync += [s3[k].eq(s2[k]) for k in s3] + [s3_q.eq(s2_q)]
    _accumulate(m, n, f, s3, s3_q, sums, rq)


def _products(m: Module, n: int, xs: list, b: Any) -> list:
    """Stage 2: one multiply per (input lane j, output lane pair): two int8 MACs per DSP48E1."""
    prods = [[Signal(signed(34), name=f"p_{j}_{p}") for p in range(n // 2)] for j in range(n)]
    for j in range(n):
        for p in range(n // 2):
            a = Signal(signed(25), name=f"a_{j}_{p}")
            m.d.comb += a.eq((b(j, 2 * p) << 16) + b(j, 2 * p + 1))
            m.d.sync += prods[j][p].eq(a * xs[j])
    return prods


def _lane_sums(m: Module, n: int, prods: list) -> list:
    """Stage 3: unpack the pairs and sum each output lane over the input lanes."""
    sums = [Signal(signed(24), name=f"sum{lane}") for lane in range(n)]
    for lane in range(n):
        terms = []
        for j in range(n):
            pr = prods[j][lane // 2]
            terms.append(pr[16:32].as_signed() + pr[15] if lane % 2 == 0 else pr[:16].as_signed())
        m.d.sync += sums[lane].eq(_tree(terms))
    return sums


def _accumulate(m: Module, n: int, f: dict, s3: dict, s3_q: Signal, sums: list, rq: tuple) -> None:
    """Stage 4: accumulate; a group's last tap goes to the requantisation lanes."""
    rq_valid, rq_single, rq_write, rq_zp, rq_lo, rq_hi, rq_acc, rq_mult, rq_shift, rq_addr = rq
    accs = [Signal(signed(32), name=f"acc{lane}") for lane in range(n)]
    with m.If(s3["go"]):
        for lane in range(n):
            base = lane * QNT_LANE_BITS
            bias = s3_q[base : base + 32].as_signed()
            new = (Mux(s3["first"], bias, accs[lane]) + sums[lane])[:32].as_signed()
            m.d.sync += accs[lane].eq(new)
            with m.If(s3["last"]):
                m.d.sync += [
                    rq_acc[lane].eq(new),
                    rq_mult[lane].eq(s3_q[base + 32 : base + 64].as_signed()),
                    rq_shift[lane].eq(s3_q[base + 64 : base + 72].as_signed()),
                ]
        with m.If(s3["last"]):
            m.d.sync += [
                rq_valid.eq(1),
                rq_write.eq(1),
                rq_addr.eq(s3["out"]),
                rq_single.eq(f["single"][0]),
                rq_zp.eq(f["out_zp"]),
                rq_lo.eq(f["act_min"]),
                rq_hi.eq(f["act_max"]),
            ]


def add_states(
    m: Module, cfg: Config, f: dict, rd: dict, lanes: list, c: dict, rq: tuple, wrote: Signal
) -> None:
    """TFLite's int8 ADD, one word of lanes at a time: rescale each input (two passes through
    the requantisation lanes, raw), add, requantise to the output (third pass, written)."""
    n = cfg.lanes
    left = f["add_left"][:5]
    ai, got = c["ai"], Signal(2)
    x1, x2 = Signal(cfg.act_bits), Signal(cfg.act_bits)
    s1 = [Signal(signed(32), name=f"add_s1_{i}") for i in range(n)]
    s2 = [Signal(signed(32), name=f"add_s2_{i}") for i in range(n)]

    def issue(x: Signal, zp: object, mult: object, shift: object) -> list:
        return _issue(n, rq, left, x, zp, mult, shift)

    with m.State("ADD_RD1"):
        m.d.comb += rd["act"].addr.eq(f["in_base"] + ai)
        m.d.sync += got.eq(0)
        m.next = "ADD_RD2"
    with m.State("ADD_RD2"):
        m.d.comb += rd["act"].addr.eq(f["in2_base"] + ai)
        m.d.sync += x1.eq(rd["act"].data)
        m.next = "ADD_IS1"
    with m.State("ADD_IS1"):
        m.d.sync += [x2.eq(rd["act"].data)] + issue(x1, f["in_zp"], f["m1"], f["s1"])
        m.next = "ADD_IS2"
    with m.State("ADD_IS2"):
        m.d.sync += issue(x2, f["in2_zp"], f["m2"], f["s2"])
        m.next = "ADD_WAIT"
    with m.State("ADD_WAIT"):
        # a raw result (passes 1 and 2), not the previous word's written pass 3
        with m.If(lanes[0].out_valid & ~wrote):
            m.d.sync += got.eq(got + 1)
            for i in range(n):
                with m.If(got == 0):
                    m.d.sync += s1[i].eq(lanes[i].raw)
                with m.Else():
                    m.d.sync += s2[i].eq(lanes[i].raw)
            with m.If(got == 1):
                m.next = "ADD_IS3"
    with m.State("ADD_IS3"):
        _add_out(m, n, f, rq, c, s1, s2)


def _issue(n: int, rq: tuple, left: Any, x: Signal, zp: Any, mult: Any, shift: Any) -> list:
    """One raw pass of ADD: each input lane minus its zero point, shifted left, rescaled."""
    rq_valid, rq_single, rq_write, rq_zp, rq_lo, rq_hi, rq_acc, rq_mult, rq_shift, _ = rq
    out = [
        rq_valid.eq(1),
        rq_write.eq(0),
        rq_single.eq(0),
        rq_zp.eq(0),
        rq_lo.eq(-128),
        rq_hi.eq(127),
    ]
    for i in range(n):
        v = (x[8 * i : 8 * i + 8].as_signed() - zp[:9].as_signed()) << left
        out += [
            rq_acc[i].eq(v[:32].as_signed()),
            rq_mult[i].eq(mult),
            rq_shift[i].eq(shift),
        ]
    return out


def _add_out(m: Module, n: int, f: dict, rq: tuple, c: dict, s1: list, s2: list) -> None:
    """ADD's third pass: the sum requantised to the output and written; then the next word."""
    rq_valid, rq_single, rq_write, rq_zp, rq_lo, rq_hi, rq_acc, rq_mult, rq_shift, rq_addr = rq
    ai = c["ai"]
    m.d.sync += [
        rq_valid.eq(1),
        rq_write.eq(1),
        rq_single.eq(0),
        rq_zp.eq(f["out_zp"]),
        rq_lo.eq(f["act_min"]),
        rq_hi.eq(f["act_max"]),
        rq_addr.eq(f["out_base"] + ai),
        ai.eq(ai + 1),
    ]
    for i in range(n):
        m.d.sync += [
            rq_acc[i].eq((s1[i] + s2[i])[:32].as_signed()),
            rq_mult[i].eq(f["mo"]),
            rq_shift[i].eq(f["so"]),
        ]
    with m.If(ai == f["count"] - 1):
        m.d.sync += c["drain"].eq(DRAIN)
        m.next = "DRAIN"
    with m.Else():
        m.next = "ADD_RD1"


def _tree(terms: list) -> object:
    """A balanced adder tree (log depth, what synthesis maps to carry chains well)."""
    while len(terms) > 1:
        terms = [
            terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
            for i in range(0, len(terms), 2)
        ]
    return terms[0]
