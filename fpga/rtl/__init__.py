"""The overlay's RTL in Amaranth HDL (imported lazily: needs the ``fpga`` extra)."""
