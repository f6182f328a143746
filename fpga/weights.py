"""The overlay's weight and requantisation words, made from a ``.vpw`` layer's data: the
packing half of fpga/program.py (which plans tensors and writes descriptors).

CONV_2D and FULLY_CONNECTED weights become ``[og][ky][kx][icg]`` words of ``w[j][l]`` (input
channel j, output channel l of the group), DEPTHWISE_CONV_2D one word per channel group holding
every tap (``w[t][l]``); a QNT word holds, per lane, the int32 bias, int32 multiplier and int8
shift of one output channel.
"""

from __future__ import annotations

import numpy as np

from converters.vpw_format import OP_NAMES
from fpga.config import QNT_LANE_BITS
from fpga.errors import UnsupportedLayer


def i32(data: bytes, off: int, n: int) -> np.ndarray:
    return np.frombuffer(data, "<i4", n, off).astype(np.int64)


def layer_consts(layer: dict, data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(weights [OC][K] int8, bias, multiplier, shift) of a weights layer from its .vpw data."""
    oc, op = layer["oc"], OP_NAMES[layer["op"]]
    base = layer["data"]
    if op == "DEPTHWISE_CONV_2D":
        k = layer["kh"] * layer["kw"]
        wb = np.frombuffer(data, np.int8, k * oc, base).reshape(k, oc).T
        nbytes = k * oc
    else:
        k = layer["kh"] * layer["kw"] * layer["ic"]
        if layer["params"][1] == 1:  # k-major [K][OC]
            wb, nbytes = np.frombuffer(data, np.int8, k * oc, base).reshape(k, oc).T, k * oc
        else:  # [OC][ch_stride]
            st = layer["ch_stride"]
            wb, nbytes = np.frombuffer(data, np.int8, oc * st, base).reshape(oc, st)[:, :k], oc * st
    q = base + nbytes
    return (
        np.ascontiguousarray(wb),
        i32(data, q, oc),
        i32(data, q + 4 * oc, oc),
        i32(data, q + 8 * oc, oc),
    )


def weights_check(index: int, op: str, mult: np.ndarray, shift: np.ndarray, single: bool) -> None:
    if np.any(mult < 0):
        raise UnsupportedLayer(index, op, "a negative requantisation multiplier")
    lo, hi = (-31, 30) if single else (-31, 31)
    if np.any(shift < lo) or np.any(shift > hi):
        raise UnsupportedLayer(index, op, f"a requantisation shift outside [{lo}, {hi}]")


def qnt_words(
    bias: np.ndarray, mult: np.ndarray, shift: np.ndarray, groups: int, lanes: int
) -> np.ndarray:
    """One QNT word per channel group: per lane int32 bias, int32 multiplier, int8 shift."""
    n = groups * lanes
    rec = np.zeros((n, QNT_LANE_BITS // 8), np.uint8)
    for col, vals, width in ((0, bias, 4), (4, mult, 4), (8, shift, 1)):
        v = np.zeros(n, np.int64)
        v[: len(vals)] = vals
        le = ((v % 2**32).astype("<u4")).view(np.uint8).reshape(n, 4)
        rec[:, col : col + width] = le[:, :width]
    return rec.reshape(groups, lanes * QNT_LANE_BITS // 8)


def conv_words(w: np.ndarray, ly: dict, lanes: int) -> np.ndarray:
    """CONV_2D / FC weights [OC][K] as words [og][ky][kx][icg] of w[j][l]."""
    oc, kh, kw, ic = ly["oc"], ly["kh"], ly["kw"], ly["ic"]
    ocg, icg = -(-oc // lanes), -(-ic // lanes)
    wp = np.zeros((ocg * lanes, kh, kw, icg * lanes), np.int8)
    wp[:oc, :, :, :ic] = w.reshape(oc, kh, kw, ic)
    wp = wp.reshape(ocg, lanes, kh, kw, icg, lanes).transpose(0, 2, 3, 4, 5, 1)
    return wp.reshape(-1, lanes * lanes).view(np.uint8)


def dw_words(w: np.ndarray, ly: dict, lanes: int) -> np.ndarray:
    """DEPTHWISE_CONV_2D weights [OC][taps] as one word per channel group of w[t][l]."""
    oc, taps = ly["oc"], ly["kh"] * ly["kw"]
    ocg = -(-oc // lanes)
    wp = np.zeros((ocg * lanes, lanes), np.int8)
    wp[:oc, :taps] = w
    return wp.reshape(ocg, lanes, lanes).transpose(0, 2, 1).reshape(ocg, -1).view(np.uint8)
