"""The overlay's interface numbers, shared by the RTL, the host side and the Vivado scripts
without importing Amaranth."""

#: the on-chip memories, by the index the AXI master loads them in
SEL = {"prog": 0, "wgt": 1, "qnt": 2, "act": 3}
#: what the master reads before a run, in order (``in``: the input activations, into ACT)
READ_SEGMENTS = ("prog", "wgt", "qnt", "in")
#: the AXI master's data width (S_AXI_HP0 configured 64-bit) and longest burst (AXI3: 16)
BEAT_BITS = 64
BURST_BEATS = 16
#: DDR segment alignment the host keeps (a 16-beat burst then never crosses a 4 KB page)
SEGMENT_ALIGN = BURST_BEATS * BEAT_BITS // 8

#: the run's arguments, in register order from 0x10 (each 32 bits; addresses are DDR bytes,
#: ``*_words`` count memory words, ``*_base`` are ACT word addresses)
ARGS = (
    "n_layers prog_addr prog_words wgt_addr wgt_words qnt_addr qnt_words in_addr in_words "
    "in_base out_addr out_words out_base"
).split()

#: ``s_axi_control`` register offsets: the Vitis HLS ap_ctrl block (0x00-0x0C), then arguments
REGS = {
    "CTRL": 0x00,  # bits: 0 ap_start, 1 ap_done (clear on read), 2 ap_idle, 3 ap_ready, 7 auto
    "GIE": 0x04,  # global interrupt enable
    "IER": 0x08,  # IP interrupt enable (bit 0: done)
    "ISR": 0x0C,  # IP interrupt status (toggle on write)
    **{name.upper(): 0x10 + 4 * i for i, name in enumerate(ARGS)},
}
#: read-only registers after the arguments
RO = {
    "CYCLES": 0x10 + 4 * len(ARGS),  # cycles of the last run, data movement included
    "MOVE_CYCLES": 0x14 + 4 * len(ARGS),  # of them, cycles the AXI master was busy
    "LANES": 0x18 + 4 * len(ARGS),  # array width
}
REGS |= RO
