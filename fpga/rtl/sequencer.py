"""The layer sequencer's step: one tap a cycle through the loop nest oy, ox, og, ky, kx, icg,
every address kept incremental (adds only, no multiplier: the packer pre-multiplied the
strides into the descriptor)."""

from amaranth import Module

from fpga.program import MODES
from fpga.rtl.datapath import DRAIN


def advance(m: Module, f: dict, c: dict) -> None:
    """One tap step (kernel position and input channel group, then the output pixel)."""
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
                _advance_pixel(m, f, c)


def _advance_pixel(m: Module, f: dict, c: dict) -> None:
    """The next output channel group, pixel, row; after the last, DRAIN."""
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
