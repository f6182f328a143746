"""One requantisation lane, pipelined, bit-exact with the C engine (``vp_mbqm`` and
``vp_mbqm_single`` in firmware_bridge/engine/c/vp_kernels.h).

Double rounding (TFLite's ``MultiplyByQuantizedMultiplier``, CONV_2D / DEPTHWISE_CONV_2D / MEAN /
ADD): x = acc << max(shift, 0); h = SRDHM(x, m) = (x*m + 2^30) >> 31; then
RoundingDivideByPOT(h, r) = (h + 2^(r-1) - [h < 0]) >> r with r = max(-shift, 0). The SRDHM
identity holds for every m the packer writes (0 or 2^30..2^31-1; the INT32_MIN case needs
m = INT32_MIN). Single rounding (FULLY_CONNECTED): (acc*m + 2^(t-1)) >> t, t = 31 - shift.
Then + zero point and the activation clamp. Latency: LATENCY cycles from ``valid``.
"""

from amaranth import Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

LATENCY = 4


class Requant(wiring.Component):
    """acc, multiplier, shift in; the raw requantised int32 and the clamped int8 out."""

    valid: In(1)
    acc: In(signed(32))
    mult: In(signed(32))
    shift: In(signed(8))
    single: In(1)
    zp: In(signed(16))
    lo: In(signed(9))
    hi: In(signed(9))
    raw: Out(signed(32))
    q: Out(signed(8))
    out_valid: Out(1)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        # stage 1: left shift (double rounding only) and the 32 x 32 product
        left = Mux(self.shift > 0, self.shift, 0)[:5]
        x = Mux(self.single, self.acc, (self.acc << left)[:32].as_signed())
        prod = Signal(signed(64))
        right1, total1, single1, zp1 = (Signal(6), Signal(7), Signal(), Signal(signed(16)))
        lo1, hi1 = Signal(signed(9)), Signal(signed(9))
        m.d.sync += [
            prod.eq(x * self.mult),
            right1.eq(Mux(self.shift > 0, 0, -self.shift)),
            total1.eq(31 - self.shift),
            single1.eq(self.single),
            zp1.eq(self.zp),
            lo1.eq(self.lo),
            hi1.eq(self.hi),
        ]
        # stage 2: SRDHM, or the whole single rounding
        h = Signal(signed(32))
        right2, zp2, lo2, hi2, single2 = (
            Signal(6),
            Signal(signed(16)),
            Signal(signed(9)),
            Signal(signed(9)),
            Signal(),
        )
        srdhm = ((prod + (1 << 30)) >> 31)[:32].as_signed()
        one = Signal(signed(64))
        m.d.comb += one.eq((Const(1, 64) << (total1 - 1)[:6])[:63])
        single_y = ((prod + one) >> total1)[:32].as_signed()
        m.d.sync += [
            h.eq(Mux(single1, single_y, srdhm)),
            right2.eq(Mux(single1, 0, right1)),
            zp2.eq(zp1),
            lo2.eq(lo1),
            hi2.eq(hi1),
            single2.eq(single1),
        ]
        # stage 3: RoundingDivideByPOT
        y = Signal(signed(32))
        zp3, lo3, hi3 = Signal(signed(16)), Signal(signed(9)), Signal(signed(9))
        half = Signal(signed(33))
        m.d.comb += half.eq(Mux(right2 == 0, 0, (Const(1, 33) << (right2 - 1)[:5])[:32]) - (h < 0))
        rounded = ((h + half) >> right2)[:32].as_signed()
        m.d.sync += [
            y.eq(Mux(right2 == 0, h, rounded)),
            zp3.eq(zp2),
            lo3.eq(lo2),
            hi3.eq(hi2),
        ]
        # stage 4: zero point and clamp
        z = Signal(signed(34))
        m.d.comb += z.eq(y + zp3)
        m.d.sync += [
            self.raw.eq(y),
            self.q.eq(Mux(z < lo3, lo3, Mux(z > hi3, hi3, z))[:8].as_signed()),
        ]
        v = Signal(LATENCY - 1)
        m.d.sync += [v.eq((v << 1) | self.valid), self.out_valid.eq(v[-1])]
        return m
