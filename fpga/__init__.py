"""The PYNQ-Z2 accelerator: RTL in Amaranth, its program layout, Verilator simulation, synthesis.

Beside ``firmware_bridge`` in the layers: it reads ``.vpw`` models (``converters``) and checks
itself against the C engine (``firmware_bridge.engine``), never the application above.
Heavy pieces (Amaranth, Verilator, Yosys) are imported or run lazily.
"""
