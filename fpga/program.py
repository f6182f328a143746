"""The overlay's program layout: a ``.vpw`` turned into layer descriptors and memory images.

The packer's target layout for the FPGA (as ``cortex-m4`` is for the MCU kernels). Activations
live channel-padded in the ACT memory, ``lanes`` channels a word (a pixel is ``cg`` words), so
a 1x1 conv reads one word per cycle for ``lanes`` input channels and the depthwise path reads
``lanes`` channels of one tap. Weights are ``lanes x lanes`` bytes a word: CONV_2D and
FULLY_CONNECTED ``[og][ky][kx][icg]`` words of ``w[j][l]`` (input channel j, output channel l of
the group), DEPTHWISE_CONV_2D one word per channel group holding every tap (``w[t][l]``).
Everything that needs a multiplication or the model's float scales is computed here; the
hardware only adds, multiplies int8 by int8 and requantises as the C engine does.

A model is refused here, naming the layer, its op and why, if the overlay cannot run it
exactly. The PS runs, with the C engine, a leading chain of ops the array has no unit for (a
variant's input resize: ``Program.head``) and the layers after the first such op further on
when they read only the overlay's result and hold no convolution (SOFTMAX; a pool and the
classifier after it: ``Program.tail``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from converters.vpw_format import OP_NAMES, OPS, VpwModel
from fpga.config import DEFAULT, DESC_WORDS, Config
from fpga.errors import FpgaError, UnsupportedLayer
from fpga.weights import conv_words, dw_words, layer_consts, qnt_words, weights_check

#: descriptor words, in order (the RTL's sequencer loads them by these indices)
FIELDS = (
    "mode single oh ow ocg kh kw icg ih iw sh sw dh dw pt pl in_base in2_base out_base w_base "
    "q_base row0 col0 sh_row sw_pix dh_row dw_pix in_zp in2_zp out_zp act_min act_max add_left "
    "m1 s1 m2 s2 mo so count"
).split()
F = {name: i for i, name in enumerate(FIELDS)}
assert len(FIELDS) <= DESC_WORDS
MODES = {"conv": 0, "dw": 1, "mean": 2, "add": 3}
HW_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MEAN", "RESHAPE")
#: the bulk of a network's MACs: never left to the PS behind an op the overlay lacks (a small
#: classifier after a pool, FULLY_CONNECTED, may be)
PS_NEVER = ("CONV_2D", "DEPTHWISE_CONV_2D")


@dataclass
class Tensor:
    """An activation tensor in the ACT memory: shape, zero-padded channel groups, word base."""

    h: int
    w: int
    c: int
    lanes: int
    base: int = -1

    @property
    def cg(self) -> int:
        return -(-self.c // self.lanes)

    @property
    def words(self) -> int:
        return self.h * self.w * self.cg


@dataclass
class Program:
    """Descriptors and memory images for one model, plus what the host needs around a run."""

    cfg: Config
    desc: np.ndarray  # int32 [layers, DESC_WORDS]
    wgt: np.ndarray  # uint8 [words, lanes * lanes]
    qnt: np.ndarray  # uint8 [words, lanes * QNT_LANE_BITS / 8]
    inp: Tensor
    out: Tensor
    macs: int  # multiply-accumulates of the layers the overlay runs (the model's, not padded)
    hw_layers: list[int] = field(default_factory=list)  # .vpw layer index of each descriptor
    head: list[int] = field(default_factory=list)  # .vpw layers run on the PS before the overlay
    tail: list[int] = field(default_factory=list)  # .vpw layers run on the PS after the overlay
    tail_offset: int = 0  # where the overlay's result goes in the engine's arena for the tail
    act_words: int = 0  # ACT words the planned tensors use

    def pack_input(self, x: np.ndarray) -> np.ndarray:
        """The int8 input (h, w, c) as ACT words (uint8 [words, lanes]), channels zero-padded."""
        return _to_words(np.asarray(x, np.int8).reshape(-1), self.inp)

    def unpack_output(self, words: np.ndarray) -> np.ndarray:
        """ACT words of the result back to the flat int8 tensor (padding dropped)."""
        t = self.out
        v = np.asarray(words, np.uint8).reshape(t.h * t.w, t.cg * t.lanes)[:, : t.c]
        return v.reshape(-1).view(np.int8)


def _to_words(flat: np.ndarray, t: Tensor) -> np.ndarray:
    out = np.zeros((t.h * t.w, t.cg * t.lanes), np.uint8)
    out[:, : t.c] = flat.view(np.uint8).reshape(t.h * t.w, t.c)
    return out.reshape(t.words, t.lanes)


def _why_not(layer: dict, lanes: int) -> str | None:
    """Why the overlay cannot run this .vpw layer exactly (None: it can)."""
    op = OP_NAMES.get(layer["op"], str(layer["op"]))
    p = layer["params"]
    if op not in HW_OPS:
        return f"no {op} unit (it runs: {', '.join(HW_OPS)})"
    dims = [layer[k] for k in ("ih", "iw", "ic", "oh", "ow", "oc")]
    if op != "RESHAPE" and max(dims) >= 1 << 15:
        return f"a dimension of {max(dims)} does not fit the 15-bit loop counters"
    if op == "FULLY_CONNECTED" and layer["in2_zp"] != 0:
        return "per-tensor weights with a non-zero zero point (the array sums w*x only)"
    if op == "DEPTHWISE_CONV_2D" and layer["dmul"] != 1:
        return f"depth multiplier {layer['dmul']} (the depthwise path runs 1)"
    if op == "DEPTHWISE_CONV_2D" and layer["kh"] * layer["kw"] > lanes:
        return f"a {layer['kh']}x{layer['kw']} kernel has more than {lanes} taps"
    if op == "MEAN" and p[2] != 0:
        return "the multiply-then-divide MEAN form"
    if op == "ADD" and not 0 <= p[0] <= 22:
        return f"left shift {p[0]} > 22 would overflow the 32-bit lanes"
    if op == "RESHAPE" and not (layer["ih"] * layer["iw"] == 1 == layer["oh"] * layer["ow"]):
        return "only a reshape of a 1x1xC tensor (same channel layout) is a no-op here"
    return None


def _head(model: VpwModel, lanes: int) -> int:
    """How many leading layers the PS runs first: a chain of ops the array has no unit for
    (RESIZE_NEAREST_NEIGHBOR of a variant's input), each reading the one before."""
    layers, start, src = model.layers, 0, int(model.header["in_offset"])
    while start < len(layers):
        ly = layers[start]
        op = OP_NAMES.get(ly["op"], "?")
        if op in HW_OPS or not _why_not(ly, lanes) or ly["in"] != src:
            break
        src, start = ly["out"], start + 1
    return start


def _split(model: VpwModel, lanes: int) -> tuple[int, int]:
    """(first, end) of the layers the overlay runs; refuse a model it cannot split so."""
    layers = model.layers
    start = _head(model, lanes)
    cut = next((i for i in range(start, len(layers)) if _why_not(layers[i], lanes)), len(layers))
    if cut == start:
        ly = layers[min(cut, len(layers) - 1)]
        raise UnsupportedLayer(cut, OP_NAMES.get(ly["op"], "?"), str(_why_not(ly, lanes)))
    if cut == len(layers):
        return start, cut
    why = _why_not(layers[cut], lanes)
    ready = {layers[cut - 1]["out"]}
    for i in range(cut, len(layers)):
        ly, op = layers[i], OP_NAMES.get(layers[i]["op"], "?")
        if op in PS_NEVER:
            raise UnsupportedLayer(
                cut,
                OP_NAMES.get(layers[cut]["op"], "?"),
                f"{why}; the PS could finish the network only if no convolution followed, "
                f"but layer {i} is {op}",
            )
        ins = [ly["in"]] + ([ly["in2"]] if ly["op"] in (OPS["ADD"], OPS["MUL"]) else [])
        if any(x not in ready for x in ins):
            raise UnsupportedLayer(
                cut,
                OP_NAMES.get(layers[cut]["op"], "?"),
                f"{why}; the PS could finish the network only if layer {i} read the overlay's "
                "result alone",
            )
        ready.add(ly["out"])
    return start, cut


def _plan(tensors: list[Tensor], spans: list[tuple[int, int]], limit: int) -> int:
    """Word bases for the tensors, greedy by size, sharing words only across disjoint lifetimes
    (the .vpw arena's rule, on channel-padded sizes)."""
    placed: list[tuple[int, int, int, int]] = []
    for k in sorted(range(len(tensors)), key=lambda k: -tensors[k].words):
        size, (lo, hi) = tensors[k].words, spans[k]
        off = 0
        for o, s in sorted((o, s) for o, s, a, b in placed if not (b < lo or hi < a)):
            if off + size <= o:
                break
            off = max(off, o + s)
        placed.append((off, size, lo, hi))
        tensors[k].base = off
    used = max((o + s for o, s, _, _ in placed), default=0)
    if used > limit:
        raise FpgaError(
            f"the activations need {used} ACT words ({used * tensors[0].lanes} bytes), the "
            f"overlay holds {limit}: the model is too large for this overlay"
        )
    return used


def _tensors(
    model: VpwModel, start: int, cut: int, cfg: Config
) -> tuple[Tensor, list[tuple[dict, list[Tensor], Tensor]], int]:
    """The overlay's input tensor, each layer's (layer, inputs, output) with every tensor given
    its ACT base, and the ACT words used."""
    n, h = cfg.lanes, model.header
    if start:
        src = model.layers[start - 1]
        inp, at = Tensor(src["oh"], src["ow"], src["oc"], n), src["out"]
    else:
        inp, at = Tensor(int(h["in_h"]), int(h["in_w"]), int(h["in_c"]), n), int(h["in_offset"])
    by_offset: dict[int, Tensor] = {at: inp}
    tensors, first, last = [inp], {id(inp): -1}, {id(inp): -1}
    io: list[tuple[dict, list[Tensor], Tensor]] = []
    for i, ly in enumerate(model.layers[start:cut], start):
        keys = [ly["in"]] + ([ly["in2"]] if ly["op"] == OPS["ADD"] else [])
        if any(k not in by_offset for k in keys):
            why = "it reads a tensor the PS made before the overlay's input"
            raise UnsupportedLayer(i, OP_NAMES[ly["op"]], why)
        ins = [by_offset[k] for k in keys]
        if ly["op"] == OPS["RESHAPE"]:
            out = ins[0]
        else:
            out = Tensor(ly["oh"], ly["ow"], ly["oc"], n)
            tensors.append(out)
            first[id(out)] = i
        for t in ins:
            last[id(t)] = i
        by_offset[ly["out"]] = out
        io.append((ly, ins, out))
    last[id(io[-1][2])] = cut
    spans = [(first[id(t)], last.get(id(t), first[id(t)])) for t in tensors]
    return inp, io, _plan(tensors, spans, cfg.act_words)


def _fits(cfg: Config, wimg: np.ndarray, qimg: np.ndarray, layers: int) -> None:
    for name, img, cap in (
        ("weight", wimg, cfg.wgt_words),
        ("requantisation", qimg, cfg.qnt_words),
    ):
        if len(img) > cap:
            raise FpgaError(
                f"the {name} memory needs {len(img)} words, the overlay holds {cap}: the model "
                "is too large for this overlay"
            )
    if layers > cfg.prog_layers:
        raise FpgaError(f"{layers} layers, the overlay's program holds {cfg.prog_layers}")


def compile_vpw(model: VpwModel, cfg: Config = DEFAULT) -> Program:
    """The overlay's program for a parsed .vpw; raises UnsupportedLayer naming what it refuses."""
    n = cfg.lanes
    start, cut = _split(model, n)
    inp, io, used = _tensors(model, start, cut, cfg)
    wgt: list[np.ndarray] = []
    qnt: list[np.ndarray] = []
    descs, hw_layers, macs = [], [], 0
    for i, (ly, ins, out) in enumerate(io, start):
        if ly["op"] == OPS["RESHAPE"]:
            continue
        d, w_words, q_words, m = _describe(
            i, ly, ins, out, model.data, n, len_w=sum(map(len, wgt)), len_q=sum(map(len, qnt))
        )
        descs.append(d)
        wgt += [w_words] if len(w_words) else []
        qnt += [q_words] if len(q_words) else []
        hw_layers.append(i)
        macs += m
    wimg = np.concatenate(wgt) if wgt else np.zeros((0, n * n), np.uint8)
    qimg = np.concatenate(qnt) if qnt else np.zeros((0, cfg.qnt_bits // 8), np.uint8)
    _fits(cfg, wimg, qimg, len(descs))
    prog = Program(
        cfg,
        np.array(descs, np.int64).astype(np.int32),
        wimg,
        qimg,
        inp,
        io[-1][2],
        macs,
        hw_layers,
        tail=list(range(cut, len(model.layers))),
        act_words=used,
    )
    prog.head = list(range(start))
    if prog.tail:
        prog.tail_offset = model.layers[cut - 1]["out"]
    return prog


def _row(d: dict) -> list[int]:
    return [d[f] for f in FIELDS] + [0] * (DESC_WORDS - len(FIELDS))


def _describe(
    i: int, ly: dict, ins: list[Tensor], out: Tensor, data: bytes, n: int, len_w: int, len_q: int
) -> tuple[list[int], np.ndarray, np.ndarray, int]:
    """One descriptor, its weight and QNT words, and its MACs, for .vpw layer ``i``."""
    op = OP_NAMES[ly["op"]]
    src = ins[0]
    d = dict.fromkeys(FIELDS, 0)
    d.update(in_base=src.base, out_base=out.base, w_base=len_w, q_base=len_q)
    d.update(in_zp=ly["in_zp"], out_zp=ly["out_zp"], act_min=ly["act_min"])
    d.update(act_max=ly["act_max"], ih=src.h, iw=src.w, oh=out.h, ow=out.w, ocg=out.cg)
    d.update(sh=1, sw=1, dh=1, dw=1, kh=1, kw=1, icg=1)
    no = np.zeros((0, 0), np.uint8)
    if op == "ADD":
        p = ly["params"]
        d.update(mode=MODES["add"], in2_base=ins[1].base, in2_zp=ly["in2_zp"], add_left=p[0])
        d.update(m1=p[1], s1=p[2], m2=p[3], s2=p[4], mo=p[5], so=p[6], count=out.words)
        return _row(d), no, no, 0
    pix = src.cg
    d.update(sh_row=src.w * pix, sw_pix=pix, dh_row=src.w * pix, dw_pix=pix)
    if op == "MEAN":
        p = ly["params"]
        cnt = src.h * src.w
        bias = np.full(out.c, -cnt * ly["in_zp"], np.int64)
        q = qnt_words(bias, np.full(out.c, p[0]), np.full(out.c, p[1]), out.cg, n)
        weights_check(i, op, np.array([p[0]]), np.array([p[1]]), False)
        d.update(mode=MODES["mean"], kh=src.h, kw=src.w, row0=src.base, act_min=-128, act_max=127)
        return _row(d), no, q, 0
    wwords, q, macs = _weighted(d, i, op, ly, src, out, data, n)
    return _row(d), wwords, q, macs


def _weighted(
    d: dict, i: int, op: str, ly: dict, src: Tensor, out: Tensor, data: bytes, n: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED: fill ``d``; their weight and QNT words."""
    w, bias, mult, shift = layer_consts(ly, data)
    single = ly["params"][0] == 1
    weights_check(i, op, mult, shift, single)
    q = qnt_words(bias, mult, shift, out.cg, n)
    kh, kw = (1, 1) if op == "FULLY_CONNECTED" else (ly["kh"], ly["kw"])
    d.update(single=int(single), kh=kh, kw=kw, sh=ly["sh"] or 1, sw=ly["sw"] or 1)
    d.update(dh=ly["dh"] or 1, dw=ly["dw"] or 1, pt=ly["pt"], pl=ly["pl"])
    if op == "FULLY_CONNECTED":
        d.update(sh=1, sw=1, dh=1, dw=1, pt=0, pl=0)
    pix = src.cg
    d.update(sh_row=d["sh"] * src.w * pix, sw_pix=d["sw"] * pix, dh_row=d["dh"] * src.w * pix)
    d.update(dw_pix=d["dw"] * pix, row0=src.base - d["pt"] * src.w * pix, col0=-d["pl"] * pix)
    if op == "DEPTHWISE_CONV_2D":
        d["mode"] = MODES["dw"]
        return dw_words(w, ly, n), q, out.h * out.w * out.c * kh * kw
    d.update(mode=MODES["conv"], icg=src.cg)
    macs = out.h * out.w * out.c * kh * kw * src.c
    return conv_words(w, dict(ly, kh=kh, kw=kw, ic=src.c), n), q, macs


def read_program(blob: bytes, cfg: Config = DEFAULT) -> Program:
    """The overlay's program for .vpw bytes (parsed and checked by ``converters``)."""
    from converters.vpw import read_vpw

    return compile_vpw(read_vpw(blob), cfg)
