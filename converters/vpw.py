"""TFLite full-int8 model -> packed ``.vpw`` for the portable C engine (pure: bytes in, bytes out).

Layout and meaning of every field: docs/vpw.md. The engine that runs it:
firmware_bridge/engine/c/vp_engine.c (host binding ``firmware_bridge.engine.Engine``).
"""

from __future__ import annotations

import numpy as np

from converters.errors import ConversionError
from converters.tflite_graph import Graph, read_graph
from converters.vpw_format import (
    DESC_SIZE,
    FLAG_GOLDEN,
    HEADER_SIZE,
    TARGETS,
    VpwModel,
    f32_bits,
    pack_desc,
    pack_header,
    read_vpw,
)
from converters.vpw_layer import Layer, shape4
from converters.vpw_lower import lower
from converters.vpw_table import TABLE_OPS, unary_tables

__all__ = ["tflite_to_vpw", "read_vpw", "VpwModel", "plan_arena"]

ALIGN = 8
SLACK = 8


def _align(n: int, a: int = ALIGN) -> int:
    return -(-n // a) * a


def plan_arena(g: Graph, layers: list[Layer]) -> tuple[dict[int, int], int]:
    """Place every activation tensor in one arena: greedy by size, overlapping only if lifetimes
    do not (a planned arena instead of ping-pong buffers, because residual ADDs keep a tensor
    alive across several layers)."""
    first: dict[int, int] = {t: -1 for t in g.inputs}
    last: dict[int, int] = {}
    for i, layer in enumerate(layers):
        first.setdefault(layer.output, i)
        for t in layer.inputs:
            last[t] = i
    for t in g.outputs:
        last[t] = len(layers)
    tensors = sorted(first, key=lambda t: (-g.tensors[t].size, t))
    placed: list[tuple[int, int, int, int]] = []  # offset, size, first, last
    offsets: dict[int, int] = {}
    for t in tensors:
        size, lo, hi = _align(g.tensors[t].size), first[t], last.get(t, first[t])
        busy = sorted((o, s) for o, s, a, b in placed if not (b < lo or hi < a))
        off = 0
        for o, s in busy:
            if off + size <= o:
                break
            off = max(off, o + s)
        placed.append((off, size, lo, hi))
        offsets[t] = off
    return offsets, max((o + s for o, s, _, _ in placed), default=0)


def _build(
    g: Graph, layers: list[Layer], word: int, target: int, golden: tuple[bytes, bytes] | None
) -> bytes:
    offsets, arena = plan_arena(g, layers)
    # one scratch region after the activations serves every layer (they run one at a time);
    # SLACK bytes after it let the Cortex-M kernels read whole words past a row's end
    scratch = _align(arena)
    arena = scratch + _align(max((ly.extra.get("scratch", 0) for ly in layers), default=0)) + SLACK
    data = bytearray()
    descs = bytearray()
    for layer in layers:
        w = dict(layer.words)
        w["in"] = offsets[layer.inputs[0]]
        w["in2"] = offsets[layer.inputs[1]] if len(layer.inputs) > 1 else 0
        w["out"] = offsets[layer.output]
        if layer.extra.get("scratch"):
            w["scratch"] = scratch
        w["data"], w["data_len"] = len(data), len(layer.data)
        data += layer.data + bytes(_align(len(layer.data), word) - len(layer.data))
        descs += pack_desc(w, layer.params)
    (ti,), (to,) = g.inputs, g.outputs
    tin, tout = g.tensors[ti], g.tensors[to]
    ih, iw, ic = shape4(tin, "input")
    oh, ow, oc = shape4(tout, "output")
    layers_off = HEADER_SIZE
    data_off = _align(layers_off + len(descs), word)
    payload = bytearray(descs) + bytes(data_off - layers_off - len(descs)) + data
    hdr = dict(
        n_layers=len(layers), desc_size=DESC_SIZE, layers_offset=layers_off,
        data_offset=data_off, data_size=len(data), arena_size=arena, op_scratch_size=0,
        stream_word_bytes=word, in_n=1, in_h=ih, in_w=iw, in_c=ic, in_zp=tin.zero_point,
        in_scale_bits=f32_bits(tin.scale), out_n=1, out_h=oh, out_w=ow, out_c=oc,
        out_zp=tout.zero_point, out_scale_bits=f32_bits(tout.scale), in_offset=offsets[ti],
        out_offset=offsets[to], in_size=tin.size, out_size=tout.size, target=target,
    )  # fmt: skip
    if golden is not None:
        hdr["flags"] = FLAG_GOLDEN
        hdr["golden_offset"] = HEADER_SIZE + len(payload)
        payload += golden[0] + golden[1]
    return pack_header(hdr, bytes(payload)) + bytes(payload)


def tflite_to_vpw(
    tflite_bytes: bytes,
    *,
    golden_input: np.ndarray | None = None,
    stream_word_bits: int = 64,
    target: str = "generic",
) -> bytes:
    """Convert a full-int8 .tflite (one int8 input, one int8 output, batch 1) to .vpw bytes.

    ``target`` picks the weight layout: ``generic`` (hosts, PYNQ: vectorised k-major kernels) or
    ``cortex-m4`` / ``cortex-m7`` (blocked SXTB16/SMLAD kernels; the firmware refuses others).

    ``golden_input`` (int8, the model's input shape) adds a self-test section holding that input
    and the engine's output for it, so a board can check itself after flashing.
    """
    if stream_word_bits % 8 or not 8 <= stream_word_bits <= 1024:
        raise ConversionError(f"stream_word_bits must be a multiple of 8, got {stream_word_bits}")
    word = stream_word_bits // 8
    if target not in TARGETS:
        raise ConversionError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")
    code = TARGETS[target]
    g = read_graph(tflite_bytes)
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise ConversionError("the model must have exactly one input and one output")
    for t in (g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]):
        if t.dtype is not np.int8:
            raise ConversionError(f"model input/output {t.name!r} must be int8 (full-int8 model)")
    table_ops = [op.index for op in g.ops if op.name in TABLE_OPS]
    layers = lower(g, word, unary_tables(tflite_bytes, table_ops), kmajor=code == 0)
    if not layers:
        raise ConversionError("the model has no operators")
    blob = _build(g, layers, word, code, None)
    if golden_input is None:
        return blob
    x = np.asarray(golden_input)
    if x.dtype != np.int8 or x.size != g.tensors[g.inputs[0]].size:
        raise ConversionError(
            f"golden input must be int8 with {g.tensors[g.inputs[0]].size} values"
        )
    from firmware_bridge.engine import Engine  # the engine defines the expected output

    y = Engine(blob).run(x)
    return _build(g, layers, word, code, (x.astype(np.int8).tobytes(), y.astype(np.int8).tobytes()))
