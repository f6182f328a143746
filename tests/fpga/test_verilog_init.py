"""The Verilog Verilator compiles: all-zero memory initialisations become one loop each (the
word-by-word form cost most of a cold simulator build); anything else is left as exported."""

from __future__ import annotations

from fpga.verilog import zero_init_loops

ZEROS = (
    "  reg [127:0] act [2:0];\n  initial begin\n"
    "    act[0] = 128'h00000000000000000000000000000000;\n"
    "    act[1] = 128'h00000000000000000000000000000000;\n"
    "    act[2] = 128'h00000000000000000000000000000000;\n  end\n"
)


def test_zero_block_becomes_one_loop() -> None:
    out = zero_init_loops(ZEROS + "  assign y = 1'h0;\n")
    assert out == (
        "  reg [127:0] act [2:0];\n  integer vp_init_act;\n"
        "  initial for (vp_init_act = 0; vp_init_act < 3; vp_init_act = vp_init_act + 1) "
        "act[vp_init_act] = 0;\n  assign y = 1'h0;\n"
    )
    decimal = "  initial begin\n    prog[0] = 32'd0;\n    prog[1] = 32'd0;\n  end\n"
    assert "prog[vp_init_prog] = 0;" in zero_init_loops(decimal)


def test_other_initialisations_are_kept() -> None:
    nonzero = ZEROS.replace("act[1] = 128'h0000", "act[1] = 128'h0001")
    two = "  initial begin\n    a[0] = 8'h00;\n    b[1] = 8'h00;\n  end\n"
    gap = "  initial begin\n    a[0] = 8'h00;\n    a[2] = 8'h00;\n  end\n"
    for text in (nonzero, two, gap):
        assert zero_init_loops(text) == text
