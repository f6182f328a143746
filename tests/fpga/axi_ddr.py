"""A DDR behind an AXI slave port for Amaranth's simulator: the same model as the Verilator
harness's (fpga/sim_harness.cpp): reads answer ``latency`` cycles after their address, a beat a
cycle, in order; writes are taken at once and answered after ``latency``."""

from __future__ import annotations

from collections import deque

P = "m_axi_gmem_"


class AxiDdr:
    def __init__(self, dut: object, mem: bytearray, base: int, latency: int = 8) -> None:
        self.dut, self.mem, self.base, self.latency = dut, mem, base, latency
        self.now = 0
        self.reads: deque = deque()  # [ready_at, addr, beats left]
        self.waddr: int | None = None
        self.bs: deque = deque()  # B responses due

    def _s(self, name: str) -> object:
        return getattr(self.dut, P + name)

    def before_edge(self, ctx: object) -> None:
        """Drive the slave side for this cycle and account for the handshakes at its edge."""
        s = self._s
        ctx.set(s("ARREADY"), 1)
        ctx.set(s("AWREADY"), self.waddr is None)
        ctx.set(s("WREADY"), self.waddr is not None)
        head = self.reads[0] if self.reads and self.reads[0][0] <= self.now else None
        ctx.set(s("RVALID"), head is not None)
        if head is not None:
            off = head[1] - self.base
            ctx.set(s("RDATA"), int.from_bytes(self.mem[off : off + 8], "little"))
            ctx.set(s("RLAST"), head[2] == 1)
        ctx.set(s("BVALID"), bool(self.bs) and self.bs[0] <= self.now)
        if ctx.get(s("ARVALID")):
            self.reads.append(
                [self.now + self.latency, ctx.get(s("ARADDR")), ctx.get(s("ARLEN")) + 1]
            )
        if head is not None and ctx.get(s("RREADY")):
            head[1] += 8
            head[2] -= 1
            if head[2] == 0:
                self.reads.popleft()
        if self.waddr is None and ctx.get(s("AWVALID")):
            self.waddr = ctx.get(s("AWADDR"))
        elif self.waddr is not None and ctx.get(s("WVALID")):
            off = self.waddr - self.base
            self.mem[off : off + 8] = ctx.get(s("WDATA")).to_bytes(8, "little")
            self.waddr += 8
            if ctx.get(s("WLAST")):
                self.waddr = None
                self.bs.append(self.now + self.latency)
        if self.bs and self.bs[0] <= self.now and ctx.get(s("BREADY")):
            self.bs.popleft()
        self.now += 1


class LiteHost:
    """The PS side of ``s_axi_control`` (one access at a time, as PYNQ's MMIO does), clocking
    the design by hand and letting the DDR model answer the master every cycle."""

    def __init__(self, dut: object, ddr: AxiDdr) -> None:
        self.dut, self.ddr = dut, ddr

    def _s(self, name: str) -> object:
        return getattr(self.dut, "s_axi_control_" + name)

    async def step(self, ctx: object) -> None:
        self.ddr.before_edge(ctx)
        ctx.set(self.dut.ap_clk, 1)
        await ctx.delay(5e-9)
        ctx.set(self.dut.ap_clk, 0)
        await ctx.delay(5e-9)

    async def write(self, ctx: object, off: int, val: int) -> None:
        ctx.set(self._s("AWADDR"), off)
        ctx.set(self._s("WDATA"), val)
        ctx.set(self._s("AWVALID"), 1)
        ctx.set(self._s("WVALID"), 1)
        ctx.set(self._s("BREADY"), 1)
        while not ctx.get(self._s("AWREADY")):
            await self.step(ctx)
        await self.step(ctx)
        ctx.set(self._s("AWVALID"), 0)
        ctx.set(self._s("WVALID"), 0)
        while not ctx.get(self._s("BVALID")):
            await self.step(ctx)
        await self.step(ctx)

    async def read(self, ctx: object, off: int) -> int:
        ctx.set(self._s("ARADDR"), off)
        ctx.set(self._s("ARVALID"), 1)
        ctx.set(self._s("RREADY"), 1)
        await self.step(ctx)
        while not ctx.get(self._s("RVALID")):
            await self.step(ctx)
        ctx.set(self._s("ARVALID"), 0)
        value = ctx.get(self._s("RDATA"))
        await self.step(ctx)
        return value

    async def start_and_wait(self, ctx: object, limit: int = 200) -> None:
        """ap_start, then clock until the interrupt (or ``limit`` cycles)."""
        await self.write(ctx, 0x00, 1)
        for _ in range(limit):
            if ctx.get(self.dut.interrupt):
                break
            await self.step(ctx)
