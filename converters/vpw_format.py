"""Byte layout of the packed int8 model format ``.vpw`` (docs/vpw.md): constants, header, parser.

The C engine (firmware_bridge/engine/c/vp_engine.h) mirrors these numbers; a test checks that the
two agree, so the converter and the firmware cannot drift apart.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from converters.errors import ConversionError

MAGIC = b"VPW1"
VERSION = 3
HEADER_SIZE = 160
DESC_WORDS = 48
DESC_SIZE = DESC_WORDS * 4
FLAG_GOLDEN = 1

#: engine op codes (``VP_OP_*`` in vp_engine.h)
OPS = {
    "CONV_2D": 1,
    "DEPTHWISE_CONV_2D": 2,
    "FULLY_CONNECTED": 3,
    "ADD": 4,
    "AVERAGE_POOL_2D": 5,
    "MAX_POOL_2D": 6,
    "MEAN": 7,
    "RESHAPE": 8,
    "PAD": 9,
    "SOFTMAX": 10,
    "RESIZE_NEAREST_NEIGHBOR": 11,
    "RESIZE_BILINEAR": 12,
    "LUT": 13,
    "MUL": 14,
    "COPY": 15,
}
OP_NAMES = {v: k for k, v in OPS.items()}

#: weight layouts by target (``VP_TARGET_*``): generic = k-major for vectorising hosts and PYNQ,
#: cortex-m = oc-major for the SXTB16/SMLAD blocked kernels
TARGETS = {"generic": 0, "cortex-m4": 1, "cortex-m7": 2}
TARGET_NAMES = {v: k for k, v in TARGETS.items()}
REPACK = "repack it: vp-edge pack MODEL.tflite --target cortex-m4|cortex-m7|generic"

#: descriptor word indices (``VP_W_*`` in vp_engine.h); P0.. are op-specific parameters
WORDS = (
    "op act_min act_max in in2 out ih iw ic oh ow oc in_zp in2_zp out_zp kh kw sh sw dh dw "
    "pt pl dmul data data_len ch_stride tensor tfl_op count scratch"
).split()
W = {name: i for i, name in enumerate(WORDS)}
P0 = 32

# header: magic, version, header_size, total_size, sha256, then int32 words from offset 48
_HDR_WORDS = (
    "flags n_layers desc_size layers_offset data_offset data_size golden_offset arena_size "
    "op_scratch_size stream_word_bytes in_n in_h in_w in_c in_zp in_scale_bits out_n out_h out_w "
    "out_c out_zp out_scale_bits in_offset out_offset in_size out_size target"
).split()
HDR = {name: 48 + 4 * i for i, name in enumerate(_HDR_WORDS)}


@dataclass
class VpwModel:
    """A parsed .vpw: header values, one dict per layer (descriptor words by name), data."""

    header: dict[str, int | float | str]
    layers: list[dict[str, int]]
    data: bytes
    golden_input: np.ndarray | None = None
    golden_output: np.ndarray | None = None
    raw: bytes = field(default=b"", repr=False)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        h = self.header
        return (int(h["in_n"]), int(h["in_h"]), int(h["in_w"]), int(h["in_c"]))

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        h = self.header
        return (int(h["out_n"]), int(h["out_h"]), int(h["out_w"]), int(h["out_c"]))

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one inference, from the descriptors (what a .vpw alone tells:
        the same count as ``converters.card.graph_macs`` of its .tflite)."""
        total = 0
        for d in self.layers:
            name = OP_NAMES.get(d["op"])
            if name == "CONV_2D":
                total += d["oh"] * d["ow"] * d["oc"] * d["kh"] * d["kw"] * d["ic"]
            elif name == "DEPTHWISE_CONV_2D":
                total += d["oh"] * d["ow"] * d["oc"] * d["kh"] * d["kw"]
            elif name == "FULLY_CONNECTED":
                total += d["oc"] * d["ic"]
        return total

    def summary(self) -> dict:
        """What ``vp-edge pack`` prints: sizes, scratch, hash, op histogram."""
        hist: dict[str, int] = {}
        for layer in self.layers:
            name = OP_NAMES.get(layer["op"], str(layer["op"]))
            hist[name] = hist.get(name, 0) + 1
        keys = ("total_size", "n_layers", "arena_size", "op_scratch_size", "data_size",
                "target_name")  # fmt: skip
        out: dict[str, Any] = {k: self.header[k] for k in keys}
        # the header's own hash covers the payload only: named so, never just "sha256" (that
        # is the whole file's, what flash, HELLO and the status page name a model by)
        out["payload_sha256"] = self.header["sha256"]
        out.update(
            input_shape=list(self.input_shape),
            output_shape=list(self.output_shape),
            input_quant=[self.header["in_scale"], self.header["in_zp"]],
            output_quant=[self.header["out_scale"], self.header["out_zp"]],
            golden=self.golden_input is not None,
            ops=hist,
        )
        return out


def f32_bits(x: float) -> int:
    return int(np.array(x, np.float32).view(np.int32))


def pack_header(values: dict[str, int], payload: bytes) -> bytes:
    """Header with the SHA-256 of everything after it."""
    hdr = bytearray(HEADER_SIZE)
    total = HEADER_SIZE + len(payload)
    struct.pack_into("<4sIII", hdr, 0, MAGIC, VERSION, HEADER_SIZE, total)
    hdr[16:48] = hashlib.sha256(payload).digest()
    for name, off in HDR.items():
        struct.pack_into("<i", hdr, off, int(values.get(name, 0)))
    return bytes(hdr)


def pack_desc(words: dict[str, int], params: list[int]) -> bytes:
    arr = np.zeros(DESC_WORDS, np.int64)
    for k, v in words.items():
        arr[W[k]] = int(v)
    if len(params) > DESC_WORDS - P0:
        raise ConversionError(f"too many op parameters ({len(params)})")
    arr[P0 : P0 + len(params)] = params
    if arr.min() < -(2**31) or arr.max() >= 2**31:
        raise ConversionError("a descriptor value does not fit in int32")
    return arr.astype("<i4").tobytes()


def read_vpw(blob: bytes) -> VpwModel:
    """Parse and check a .vpw (magic, version, sizes, SHA-256); raise ConversionError if bad."""
    blob = bytes(blob)
    if len(blob) < HEADER_SIZE or blob[:4] != MAGIC:
        raise ConversionError("not a .vpw file (bad magic)")
    _, version, hsize, total = struct.unpack_from("<4sIII", blob, 0)
    if version != VERSION or hsize != HEADER_SIZE:
        raise ConversionError(
            f".vpw version {version} / header {hsize} is not supported (this engine reads "
            f"version {VERSION}); {REPACK}"
        )
    if total != len(blob):
        raise ConversionError(f".vpw says {total} bytes but has {len(blob)}")
    if hashlib.sha256(blob[HEADER_SIZE:]).digest() != blob[16:48]:
        raise ConversionError(".vpw payload does not match its SHA-256 (corrupt file)")
    h: dict[str, int | float | str] = {
        k: struct.unpack_from("<i", blob, off)[0] for k, off in HDR.items()
    }
    h.update(version=version, total_size=total, sha256=blob[16:48].hex())
    h["target_name"] = TARGET_NAMES.get(int(h["target"]), str(h["target"]))
    h["in_scale"] = float(np.int32(h["in_scale_bits"]).view(np.float32))
    h["out_scale"] = float(np.int32(h["out_scale_bits"]).view(np.float32))
    n, lo = int(h["n_layers"]), int(h["layers_offset"])
    descs = np.frombuffer(blob, "<i4", n * DESC_WORDS, lo).reshape(n, DESC_WORDS)
    layers = []
    for row in descs:
        d = {name: int(row[i]) for i, name in enumerate(WORDS)}
        d["params"] = [int(v) for v in row[P0:]]  # type: ignore[assignment]
        layers.append(d)
    d0, ds = int(h["data_offset"]), int(h["data_size"])
    model = VpwModel(h, layers, blob[d0 : d0 + ds], raw=blob)
    if int(h["flags"]) & FLAG_GOLDEN:
        g = int(h["golden_offset"])
        ni, no = int(h["in_size"]), int(h["out_size"])
        model.golden_input = np.frombuffer(blob, np.int8, ni, g).reshape(model.input_shape)
        model.golden_output = np.frombuffer(blob, np.int8, no, g + ni).copy()
    return model
