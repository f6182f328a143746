"""Where a model and its activations sit in DDR for the overlay's AXI master, and the argument
registers that tell it: one layout for the Verilator harness (fpga/sim.py) and a PYNQ host
(``pynq.allocate`` one buffer of ``size`` bytes, write ``model_image`` into it once, the input
per run, read the output back).

A memory word takes ``ceil(bits / 64)`` 64-bit beats, little-endian, its bits at the low end
(fpga/rtl/dma.py); each segment starts on a ``SEGMENT_ALIGN`` boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fpga.program import Program
from fpga.rtl_ports import ARGS, BEAT_BITS, READ_SEGMENTS, SEGMENT_ALIGN

BEAT = BEAT_BITS // 8


def _beats(word_bytes: int) -> int:
    return -(-word_bytes // BEAT)


def _rows(words: np.ndarray) -> np.ndarray:
    """uint8 [n, word bytes] padded to whole beats: the bytes as the master reads them."""
    words = np.asarray(words, np.uint8)
    pad = _beats(words.shape[1]) * BEAT - words.shape[1]
    return np.pad(words, ((0, 0), (0, pad))) if pad else words


@dataclass(frozen=True)
class DdrLayout:
    """Byte offsets (from the buffer's start) and word counts of each segment."""

    offsets: dict[str, int]
    words: dict[str, int]
    size: int
    act_bytes: int  # bytes of one ACT word in DDR

    def args(
        self,
        base: int,
        n_layers: int,
        *,
        model: bool,
        in_words: int,
        in_base: int,
        out_words: int,
        out_base: int,
    ) -> list[int]:
        """The argument registers (ARGS order) for one run from a buffer at physical ``base``;
        ``model``: read the program, weights and requantisation words too (once per model)."""
        v = {"n_layers": n_layers, "in_words": in_words, "in_base": in_base}
        v |= {"out_words": out_words, "out_base": out_base}
        for seg in READ_SEGMENTS + ("out",):
            v[f"{seg}_addr"] = base + self.offsets[seg]
        for seg in READ_SEGMENTS[:3]:
            v[f"{seg}_words"] = self.words[seg] if model else 0
        return [int(v[a]) & 0xFFFF_FFFF for a in ARGS]


def _desc_words(p: Program) -> np.ndarray:
    return np.ascontiguousarray(p.desc.reshape(-1, 1)).view(np.uint8).reshape(-1, 4)


def layout(p: Program, out_words: int | None = None) -> DdrLayout:
    """Segments for program ``p``; the output segment holds ``out_words`` ACT words (default:
    the whole ACT memory, so any activation can be read back)."""
    act_bytes = _beats(p.cfg.act_bits // 8) * BEAT
    sizes = {
        "prog": len(p.desc) * p.desc.shape[1] * BEAT if len(p.desc) else 0,
        "wgt": len(p.wgt) * _beats(p.cfg.wgt_bits // 8) * BEAT,
        "qnt": len(p.qnt) * _beats(p.cfg.qnt_bits // 8) * BEAT,
        "in": p.inp.words * act_bytes,
        "out": (p.cfg.act_words if out_words is None else out_words) * act_bytes,
    }
    offsets, at = {}, 0
    for seg, n in sizes.items():
        offsets[seg] = at
        at += -(-n // SEGMENT_ALIGN) * SEGMENT_ALIGN
    words = {"prog": p.desc.size, "wgt": len(p.wgt), "qnt": len(p.qnt), "in": p.inp.words}
    return DdrLayout(offsets, words, at, act_bytes)


def model_image(p: Program, lay: DdrLayout) -> np.ndarray:
    """The buffer's bytes with the program, weights and requantisation words in place."""
    buf = np.zeros(lay.size, np.uint8)
    for seg, words in (("prog", _desc_words(p)), ("wgt", p.wgt), ("qnt", p.qnt)):
        if len(words):
            rows = _rows(words).reshape(-1)
            buf[lay.offsets[seg] : lay.offsets[seg] + len(rows)] = rows
    return buf


def put_input(p: Program, lay: DdrLayout, buf: np.ndarray, x: np.ndarray) -> None:
    """The int8 input, channel-padded ACT words, into its segment."""
    rows = _rows(p.pack_input(x)).reshape(-1)
    buf[lay.offsets["in"] : lay.offsets["in"] + len(rows)] = rows


def get_act(p: Program, lay: DdrLayout, buf: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` ACT words of the output segment as uint8 [n, lanes] (a copy: the next
    run writes the same bytes)."""
    o = lay.offsets["out"]
    rows = buf[o : o + n * lay.act_bytes].reshape(n, lay.act_bytes)
    return rows[:, : p.cfg.lanes].copy()
