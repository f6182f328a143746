"""``vp_top``'s AXI4-Lite port in Amaranth's simulator (a 4-lane core keeps it fast): the HLS
ap_ctrl bits (start, done clear-on-read, idle, ready), the interrupt, loading a memory word and
reading an activation word back, one layer run end to end."""

from __future__ import annotations

from conftest import need_amaranth

from fpga.config import Config
from fpga.program import FIELDS, MODES, F
from fpga.rtl_ports import REGS, SEL

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
    p = "s_axi_control_"
    seen: dict[str, int] = {}

    async def step(ctx) -> None:
        ctx.set(dut.ap_clk, 1)
        await ctx.delay(5e-9)
        ctx.set(dut.ap_clk, 0)
        await ctx.delay(5e-9)

    async def write(ctx, off: int, val: int) -> None:
        ctx.set(getattr(dut, p + "AWADDR"), off)
        ctx.set(getattr(dut, p + "WDATA"), val)
        ctx.set(getattr(dut, p + "AWVALID"), 1)
        ctx.set(getattr(dut, p + "WVALID"), 1)
        ctx.set(getattr(dut, p + "BREADY"), 1)
        while not ctx.get(getattr(dut, p + "AWREADY")):
            await step(ctx)
        await step(ctx)
        ctx.set(getattr(dut, p + "AWVALID"), 0)
        ctx.set(getattr(dut, p + "WVALID"), 0)
        while not ctx.get(getattr(dut, p + "BVALID")):
            await step(ctx)
        await step(ctx)

    async def read(ctx, off: int) -> int:
        ctx.set(getattr(dut, p + "ARADDR"), off)
        ctx.set(getattr(dut, p + "ARVALID"), 1)
        ctx.set(getattr(dut, p + "RREADY"), 1)
        await step(ctx)
        while not ctx.get(getattr(dut, p + "RVALID")):
            await step(ctx)
        ctx.set(getattr(dut, p + "ARVALID"), 0)
        value = ctx.get(getattr(dut, p + "RDATA"))
        await step(ctx)
        return value

    async def bench(ctx) -> None:
        ctx.set(dut.ap_rst_n, 1)
        await step(ctx)
        seen["idle"] = await read(ctx, REGS["CTRL"])
        seen["lanes"] = await read(ctx, REGS["LANES"])
        await write(ctx, REGS["LD_SEL"], SEL["act"])  # one activation word, read back
        await write(ctx, REGS["LD_ADDR"], 9)
        await write(ctx, REGS["LD_DATA"], 0xA1B2C3D4)
        await write(ctx, REGS["LD_COMMIT"], 1)
        await write(ctx, REGS["HR_ADDR"], 9)
        seen["word"] = await read(ctx, REGS["HR_DATA"])
        await write(ctx, REGS["LD_SEL"], SEL["prog"])
        for i, v in enumerate(_one_conv_layer(7)):
            await write(ctx, REGS["LD_ADDR"], i)
            await write(ctx, REGS["LD_DATA"], v)
            await write(ctx, REGS["LD_COMMIT"], 1)
        await write(ctx, REGS["N_LAYERS"], 1)
        await write(ctx, REGS["IER"], 1)
        await write(ctx, REGS["GIE"], 1)
        await write(ctx, REGS["CTRL"], 1)
        for _ in range(200):
            if ctx.get(dut.interrupt):
                break
            await step(ctx)
        seen["irq"] = ctx.get(dut.interrupt)
        seen["done"] = await read(ctx, REGS["CTRL"])
        seen["after"] = await read(ctx, REGS["CTRL"])
        seen["cycles"] = await read(ctx, REGS["CYCLES"])
        await write(ctx, REGS["HR_ADDR"], 1)
        seen["out"] = await read(ctx, REGS["HR_DATA"])

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert seen["idle"] == 0x4 and seen["lanes"] == 4
    assert seen["word"] == 0xA1B2C3D4
    assert seen["irq"] == 1
    assert seen["done"] == 0x2 | 0x4 | 0x8  # done, idle, ready
    assert seen["after"] == 0x4  # done and ready cleared by the read
    assert seen["out"] == 0x07070707 and seen["cycles"] > 0
