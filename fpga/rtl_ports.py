"""The overlay's interface numbers, shared by the RTL, the host side and the Vivado scripts
without importing Amaranth."""

#: the core's load-port selector, by memory
SEL = {"prog": 0, "wgt": 1, "qnt": 2, "act": 3}

#: ``s_axi_control`` register offsets: the Vitis HLS ap_ctrl block (0x00-0x0C), then arguments
REGS = {
    "CTRL": 0x00,  # bits: 0 ap_start, 1 ap_done (clear on read), 2 ap_idle, 3 ap_ready, 7 auto
    "GIE": 0x04,  # global interrupt enable
    "IER": 0x08,  # IP interrupt enable (bit 0: done)
    "ISR": 0x0C,  # IP interrupt status (toggle on write)
    "N_LAYERS": 0x10,  # descriptors to run
    "CYCLES": 0x14,  # cycles of the last run (read only)
    "LD_SEL": 0x18,  # memory to load: SEL
    "LD_ADDR": 0x1C,  # word address to load
    "LD_DATA": 0x20,  # write: push 32 bits into the staging word (first = lowest bits)
    "LD_COMMIT": 0x24,  # write: store the staging word at LD_ADDR
    "HR_ADDR": 0x28,  # activation word to read back
    "LANES": 0x2C,  # array width (read only)
    "HR_DATA": 0x30,  # the activation word, 32 bits a register (read only)
}
