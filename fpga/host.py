"""How the PS drives ``vp_top``, in one place for a PYNQ board and the simulation: the model's
image in one DDR buffer (``pynq.allocate``), the argument registers from 0x10, ``ap_start``,
polling ``ap_done``. The overlay's AXI master then reads the program, weights and requantisation
words once per model, and each run's input, and writes the output back into the same buffer.

``regs`` is anything with ``write(offset, value)`` and ``read(offset)`` (pynq's ``DefaultIP``
and ``MMIO`` are); ``buf`` a uint8 array over the buffer, with ``flush()``/``invalidate()`` where
it is cacheable (a ``PynqBuffer``), at physical address ``phys`` (``buf.device_address``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fpga.ddr import DdrLayout, get_act, layout, model_image, put_input
from fpga.errors import FpgaError
from fpga.program import Program
from fpga.rtl_ports import ARGS, REGS

AP_START, AP_DONE = 0x1, 0x2


def buffer_bytes(program: Program) -> int:
    """The size of the one DDR buffer a model needs (``pynq.allocate((n,), np.uint8)``)."""
    return layout(program).size


class OverlayHost:
    """``load_model()`` once, then ``run(x)`` per input (the overlay's input tensor: any head
    layers already run on the PS) -> the overlay's int8 result and the cycles it counted."""

    def __init__(self, program: Program, regs: Any, buf: Any, phys: int, polls: int = 1 << 30):
        self.program, self.regs, self.buf, self.phys = program, regs, buf, int(phys)
        self.layout: DdrLayout = layout(program)
        if len(buf) < self.layout.size:
            raise FpgaError(f"the DDR buffer holds {len(buf)} bytes, the model needs "
                            f"{self.layout.size}: allocate buffer_bytes(program)")  # fmt: skip
        if self.phys % 128:
            raise FpgaError(f"the DDR buffer at {self.phys:#x} is not 128-byte aligned")
        self.polls = polls
        self.cycles = self.move_cycles = 0

    def _sync(self, method: str) -> None:
        fn = getattr(self.buf, method, None)
        if fn is not None:
            fn()

    def _start(self, n_layers: int, *, model: bool, inp: bool, out: tuple[int, int]) -> int:
        p = self.program
        args = self.layout.args(
            self.phys,
            n_layers,
            model=model,
            in_words=p.inp.words if inp else 0,
            in_base=p.inp.base,
            out_base=out[0],
            out_words=out[1],
        )
        self._sync("flush")
        for name, value in zip(ARGS, args, strict=True):
            self.regs.write(REGS[name.upper()], value)
        self.regs.write(REGS["CTRL"], AP_START)
        for _ in range(self.polls):
            if self.regs.read(REGS["CTRL"]) & AP_DONE:
                break
        else:
            raise FpgaError(f"vp_top did not finish after {self.polls} polls of ap_done")
        self._sync("invalidate")
        self.cycles = int(self.regs.read(REGS["CYCLES"]))
        self.move_cycles = int(self.regs.read(REGS["MOVE_CYCLES"]))
        return self.cycles

    def load_model(self) -> int:
        """The model's image into the buffer and through the master into the BRAMs; cycles."""
        view = np.asarray(self.buf).view(np.uint8).reshape(-1)
        img = model_image(self.program, self.layout)
        view[: len(img)] = img
        return self._start(0, model=True, inp=False, out=(0, 0))

    def run_layers(self, x: np.ndarray, n_layers: int) -> int:
        """The input in, the first ``n_layers`` descriptors, the result out; cycles."""
        p = self.program
        put_input(p, self.layout, np.asarray(self.buf).view(np.uint8).reshape(-1), x)
        return self._start(n_layers, model=False, inp=True, out=(p.out.base, p.out.words))

    def read_act(self, addr: int, n: int) -> np.ndarray:
        """``n`` ACT words from ``addr`` (written out by the master) as uint8 [n, lanes]."""
        self._start(0, model=False, inp=False, out=(addr, n))
        return get_act(self.program, self.layout, np.asarray(self.buf).view(np.uint8), n)

    def run(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        """One inference on the overlay: its int8 result (flat) and its cycles."""
        p = self.program
        cycles = self.run_layers(x, len(p.desc))
        words = get_act(p, self.layout, np.asarray(self.buf).view(np.uint8), p.out.words)
        return p.unpack_output(words), cycles
