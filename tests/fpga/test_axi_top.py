"""``vp_top`` in Amaranth's simulator (a 4-lane core keeps it fast), its AXI4-Lite port driven
as PYNQ drives it and its AXI master answered by a DDR model: the HLS ap_ctrl bits (start, done
clear-on-read, idle, ready), the interrupt, a model and an input read from DDR, one layer run
end to end with its output written back, an activation word round trip."""

from __future__ import annotations

from axi_ddr import AxiDdr, LiteHost
from conftest import need_amaranth

from fpga.config import Config
from fpga.program import FIELDS, MODES, F
from fpga.rtl_ports import REGS

SMALL = Config(lanes=4, act_words=16, wgt_words=4, qnt_words=2, prog_layers=2)


def _one_conv_layer(out_zp: int) -> list[int]:
    """A 1x1 conv of one pixel whose requantisation words are zero: every output = out_zp."""
    d = [0] * len(FIELDS)
    for k, v in dict(
        mode=MODES["conv"],
        oh=1,
        ow=1,
        ocg=1,
        kh=1,
        kw=1,
        icg=1,
        ih=1,
        iw=1,
        sh=1,
        sw=1,
        dh=1,
        dw=1,
        out_base=1,
        sh_row=1,
        sw_pix=1,
        dh_row=1,
        dw_pix=1,
        out_zp=out_zp,
        act_min=-128,
        act_max=127,
    ).items():
        d[F[k]] = v
    return [v & 0xFFFFFFFF for v in d]


def test_ap_ctrl_loading_and_one_layer() -> None:
    need_amaranth()
    from amaranth.sim import Simulator

    from fpga.rtl.axi import VpTop

    dut = VpTop(SMALL)
    seen: dict[str, int] = {}

    base, mem = 0x1000_0000, bytearray(4096)
    ddr = AxiDdr(dut, mem, base)
    for i, v in enumerate(_one_conv_layer(7)):  # the program, a 32-bit word a beat
        mem[8 * i : 8 * i + 4] = v.to_bytes(4, "little")
    mem[0x400:0x404] = bytes([0xD4, 0xC3, 0xB2, 0xA1])  # an input word

    host = LiteHost(dut, ddr)
    step, write, read = host.step, host.write, host.read

    async def bench(ctx) -> None:
        ctx.set(dut.ap_rst_n, 1)
        await step(ctx)
        seen["idle"] = await read(ctx, REGS["CTRL"])
        seen["lanes"] = await read(ctx, REGS["LANES"])
        args = dict(prog_addr=base, prog_words=len(FIELDS), wgt_addr=base + 0x200, wgt_words=1)
        args |= dict(qnt_addr=base + 0x300, qnt_words=1, in_addr=base + 0x400, in_words=1)
        args |= dict(out_addr=base + 0x800, out_words=2, out_base=0)
        args |= dict(n_layers=1, ier=1, gie=1)
        for k, v in args.items():
            await write(ctx, REGS[k.upper()], v)
        await host.start_and_wait(ctx)
        seen["irq"] = ctx.get(dut.interrupt)
        seen["done"] = await read(ctx, REGS["CTRL"])
        seen["after"] = await read(ctx, REGS["CTRL"])
        seen["cycles"] = await read(ctx, REGS["CYCLES"])
        seen["moved"] = await read(ctx, REGS["MOVE_CYCLES"])
        # an input word round trip; ISR 1 acknowledges the first run's interrupt (toggle)
        again = dict(prog_words=0, wgt_words=0, qnt_words=0, n_layers=0, in_base=9, out_base=9)
        again |= dict(out_addr=base + 0x880, out_words=1, isr=1)
        for k, v in again.items():
            await write(ctx, REGS[k.upper()], v)
        seen["acked"] = ctx.get(dut.interrupt)
        await host.start_and_wait(ctx)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert seen["idle"] == 0x4 and seen["lanes"] == 4
    assert seen["irq"] == 1 and seen["acked"] == 0
    assert seen["done"] == 0x2 | 0x4 | 0x8  # done, idle, ready
    assert seen["after"] == 0x4  # done and ready cleared by the read
    # word 0 is the input, word 1 the layer's output: every lane the output zero point
    assert mem[0x800:0x804] == bytes([0xD4, 0xC3, 0xB2, 0xA1])
    assert mem[0x808:0x80C] == bytes([7, 7, 7, 7])
    assert mem[0x880:0x884] == bytes([0xD4, 0xC3, 0xB2, 0xA1])
    assert seen["cycles"] > seen["moved"] > len(FIELDS)  # the program's beats, at least
