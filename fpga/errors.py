"""Errors of the accelerator package (their root, ``VpEdgeError``, lives in firmware_bridge)."""

from __future__ import annotations

from firmware_bridge.errors import VpEdgeError


class FpgaError(VpEdgeError):
    """Root of what the accelerator package raises on purpose (a model too large, a bad
    input: exit 2)."""

    exit_code = 2


class UnsupportedLayer(FpgaError):
    """A layer the overlay cannot run exactly: refused at pack time, naming op, index and why."""

    exit_code = 2

    def __init__(self, index: int, op: str, why: str) -> None:
        super().__init__(f"layer {index} ({op}): the FPGA overlay cannot run it: {why}")
        self.index, self.op, self.why = index, op, why


class ToolMissing(FpgaError):
    """A simulator or synthesis tool is not installed (install hint in the message)."""


class ToolFailed(FpgaError):
    """Verilator, the C++ compiler or Yosys ran and failed, or the simulation did not finish."""

    exit_code = 3
