"""The AXI master alone in Amaranth's simulator, at the full 16-lane widths (a weight word is 32
beats, a requantisation word 18, an ACT word 2): every segment lands word for word where the
layout says, empty segments are skipped, bursts stay within 16 beats, and ACT words go back out."""

from __future__ import annotations

import numpy as np
from axi_ddr import AxiDdr
from conftest import need_amaranth

from fpga.config import DEFAULT
from fpga.rtl_ports import BURST_BEATS, READ_SEGMENTS


def test_segments_in_and_activations_out() -> None:
    need_amaranth()
    from amaranth.sim import Simulator

    from fpga.rtl.dma import Dma

    dut = Dma(DEFAULT)
    base, rng = 0x2000_0000, np.random.default_rng(3)
    mem = bytearray(rng.integers(0, 256, 1 << 14, dtype=np.uint8).tobytes())
    ddr = AxiDdr(dut, mem, base, latency=5)
    counts = {"prog": 3, "wgt": 2, "qnt": 0, "in": 5}  # qnt: skipped
    offs = {"prog": 0, "wgt": 0x400, "qnt": 0x1000, "in": 0x1400}
    written: dict[tuple[int, int], int] = {}
    lens: list[int] = []

    async def step(ctx) -> None:
        if ctx.get(dut.m_axi_gmem_ARVALID):
            lens.append(ctx.get(dut.m_axi_gmem_ARLEN) + 1)
        ddr.before_edge(ctx)
        if ctx.get(dut.wr_en):
            sel = ctx.get(dut.wr_sel)
            written[sel, ctx.get(dut.wr_addr)] = ctx.get(dut.word(sel))
        await ctx.tick()
        a = ctx.get(dut.act_addr)  # a BRAM read port: the word a cycle later
        ctx.set(dut.act_data, written.get((3, a), 0))

    async def bench(ctx) -> None:
        for seg in READ_SEGMENTS:
            ctx.set(getattr(dut, f"{seg}_addr"), base + offs[seg])
            ctx.set(getattr(dut, f"{seg}_words"), counts[seg])
        ctx.set(dut.in_base, 7)
        ctx.set(dut.load, 1)
        await step(ctx)
        ctx.set(dut.load, 0)
        while ctx.get(dut.busy):
            await step(ctx)
        ctx.set(dut.out_base, 8)
        ctx.set(dut.out_words, 3)
        ctx.set(dut.out_addr, base + 0x3000)
        ctx.set(dut.store, 1)
        await step(ctx)
        ctx.set(dut.store, 0)
        while ctx.get(dut.busy):
            await step(ctx)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    widths = dut.widths
    want = {}
    for sel, seg in enumerate(READ_SEGMENTS):
        nbytes = -(-widths[sel] // 64) * 8
        for w in range(counts[seg]):
            o = offs[seg] + w * nbytes
            word = int.from_bytes(mem[o : o + nbytes], "little") & ((1 << widths[sel]) - 1)
            want[sel, w + (7 if seg == "in" else 0)] = word
    assert written == want
    assert max(lens) <= BURST_BEATS and sum(lens) == 3 + 2 * 32 + 5 * 2
    assert mem[0x3000 : 0x3000 + 48] == mem[0x1400 + 16 : 0x1400 + 64]  # ACT 8..10 = input 1..3
