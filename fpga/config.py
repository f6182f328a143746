"""The overlay's fixed sizes: one table both the RTL and the program layout read.

Sized for the xc7z020 (220 DSP48E1, 140 BRAM36): a 16 x 16 int8 MAC array (256 MACs a cycle,
two per DSP48E1 with the 16-bit lane packing) and on-chip memories for every weight and
activation of the demo family's variants.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    """Array width and memory depths (words); the clock is the design's assumed FCLK0."""

    lanes: int = 16  # input channels x output channels per cycle: lanes * lanes MACs
    act_words: int = 4096  # activations: lanes bytes a word (64 KiB)
    wgt_words: int = 1536  # weights: lanes * lanes bytes a word (384 KiB: 3 x 512 BRAM rows)
    qnt_words: int = 512  # per-channel bias, multiplier, shift: one word per channel group
    prog_layers: int = 128  # layer descriptors of DESC_WORDS 32-bit words
    clock_mhz: float = 100.0

    @property
    def act_bits(self) -> int:
        return 8 * self.lanes

    @property
    def wgt_bits(self) -> int:
        return 8 * self.lanes * self.lanes

    @property
    def qnt_bits(self) -> int:
        return QNT_LANE_BITS * self.lanes

    @property
    def peak_macs(self) -> int:
        return self.lanes * self.lanes


#: per lane in a QNT word: int32 bias, int32 multiplier, int8 shift
QNT_LANE_BITS = 72
#: 32-bit words per layer descriptor in the program memory
DESC_WORDS = 48
DEFAULT = Config()
