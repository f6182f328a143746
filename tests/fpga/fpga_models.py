"""Hand-built .vpw models for the overlay's tests: random weights and quantisation, shapes with
more than one channel group of 16, every op the overlay runs (no TensorFlow needed)."""

from __future__ import annotations

import numpy as np

from converters.vpw_format import OPS, pack_desc, pack_header


def _quant(rng: np.random.Generator, oc: int, lo: int, hi: int) -> bytes:
    mult = rng.integers((1 << 30) + 1, 1 << 31, oc)
    shift = -rng.integers(lo, hi, oc)
    return mult.astype("<i4").tobytes() + shift.astype("<i4").tobytes()


def mixed_model(seed: int, h: int = 7, ic: int = 20, oc: int = 20) -> bytes:
    """CONV_2D 3x3 stride 1 SAME (ic -> oc) -> DEPTHWISE 3x3 stride 2 SAME -> 1x1 CONV_2D ->
    ADD(that, the depthwise output) -> MEAN -> FULLY_CONNECTED (single rounding)."""
    rng = np.random.default_rng(seed)
    oh2 = (h + 1) // 2
    sizes = {
        "in": h * h * ic,
        "c1": h * h * oc,
        "dw": oh2 * oh2 * oc,
        "pw": oh2 * oh2 * oc,
        "add": oh2 * oh2 * oc,
        "mean": oc,
        "fc": 10,
    }
    off, a = {}, 0
    for k, s in sizes.items():
        off[k] = a
        a += -(-s // 8) * 8
    scratch = a
    k1 = 9 * ic
    st1 = -(-k1 // 8) * 8
    zp = [int(v) for v in rng.integers(-20, 20, 8)]
    layers, data = [], bytearray()

    def add_layer(words: dict, params: list, blob: bytes) -> None:
        words = dict(
            words,
            data=len(data),
            data_len=len(blob),
            act_min=words.get("act_min", -128),
            act_max=words.get("act_max", 127),
        )
        data.extend(blob + bytes(-len(blob) % 8))
        layers.append(pack_desc(words, params))

    w1 = np.zeros((oc, st1), np.int8)
    w1[:, :k1] = rng.integers(-128, 128, (oc, k1))
    bias = rng.integers(-5000, 5000, oc).astype("<i4").tobytes()
    add_layer(
        dict(
            op=OPS["CONV_2D"],
            ih=h,
            iw=h,
            ic=ic,
            oh=h,
            ow=h,
            oc=oc,
            kh=3,
            kw=3,
            sh=1,
            sw=1,
            dh=1,
            dw=1,
            pt=1,
            pl=1,
            in_zp=zp[0],
            out_zp=zp[1],
            ch_stride=st1,
            act_min=-100,
            scratch=scratch,
            **{"in": off["in"], "out": off["c1"]},
        ),
        [0, 0],
        w1.tobytes() + bias + _quant(rng, oc, 9, 13),
    )
    wd = rng.integers(-128, 128, (9, oc)).astype(np.int8)
    add_layer(
        dict(
            op=OPS["DEPTHWISE_CONV_2D"],
            ih=h,
            iw=h,
            ic=oc,
            oh=oh2,
            ow=oh2,
            oc=oc,
            kh=3,
            kw=3,
            sh=2,
            sw=2,
            dh=1,
            dw=1,
            pt=0 if h % 2 else 1,
            pl=0 if h % 2 else 1,
            dmul=1,
            in_zp=zp[1],
            out_zp=zp[2],
            ch_stride=oc,
            act_max=90,
            **{"in": off["c1"], "out": off["dw"]},
        ),
        [0, 1],
        wd.tobytes()
        + rng.integers(-3000, 3000, oc).astype("<i4").tobytes()
        + _quant(rng, oc, 6, 10),
    )
    wp = rng.integers(-128, 128, (oc, -(-oc // 8) * 8)).astype(np.int8)
    add_layer(
        dict(
            op=OPS["CONV_2D"],
            ih=oh2,
            iw=oh2,
            ic=oc,
            oh=oh2,
            ow=oh2,
            oc=oc,
            kh=1,
            kw=1,
            sh=1,
            sw=1,
            dh=1,
            dw=1,
            in_zp=zp[2],
            out_zp=zp[3],
            ch_stride=wp.shape[1],
            **{"in": off["dw"], "out": off["pw"]},
        ),
        [0, 0],
        wp.tobytes()
        + rng.integers(-3000, 3000, oc).astype("<i4").tobytes()
        + _quant(rng, oc, 8, 12),
    )
    am = [int(v) for v in rng.integers((1 << 30) + 1, 1 << 31, 3)]
    add_layer(
        dict(
            op=OPS["ADD"],
            ih=oh2,
            iw=oh2,
            ic=oc,
            oh=oh2,
            ow=oh2,
            oc=oc,
            in_zp=zp[3],
            in2_zp=zp[2],
            out_zp=zp[4],
            count=sizes["add"],
            **{"in": off["pw"], "in2": off["dw"], "out": off["add"]},
        ),
        [20, am[0], -1, am[1], -2, am[2], -19],
        b"",
    )
    add_layer(
        dict(
            op=OPS["MEAN"],
            ih=oh2,
            iw=oh2,
            ic=oc,
            oh=1,
            ow=1,
            oc=oc,
            in_zp=zp[4],
            out_zp=zp[5],
            **{"in": off["add"], "out": off["mean"]},
        ),
        [int(rng.integers((1 << 30) + 1, 1 << 31)), -int(rng.integers(1, 5)), 0],
        b"",
    )
    wf = rng.integers(-128, 128, (10, -(-oc // 8) * 8)).astype(np.int8)
    add_layer(
        dict(
            op=OPS["FULLY_CONNECTED"],
            ih=1,
            iw=1,
            ic=oc,
            oh=1,
            ow=1,
            oc=10,
            kh=1,
            kw=1,
            sh=1,
            sw=1,
            dh=1,
            dw=1,
            in_zp=zp[5],
            out_zp=zp[6],
            ch_stride=wf.shape[1],
            **{"in": off["mean"], "out": off["fc"]},
        ),
        [1, 0],
        wf.tobytes()
        + rng.integers(-3000, 3000, 10).astype("<i4").tobytes()
        + _quant(rng, 10, 8, 12),
    )
    desc = b"".join(layers)
    data_off = 160 + len(desc)
    hdr = dict(
        n_layers=len(layers),
        desc_size=192,
        layers_offset=160,
        data_offset=data_off,
        data_size=len(data),
        arena_size=scratch + 2 * st1 + 8,
        stream_word_bytes=8,
        in_n=1,
        in_h=h,
        in_w=h,
        in_c=ic,
        in_zp=zp[0],
        out_n=1,
        out_h=1,
        out_w=1,
        out_c=10,
        out_zp=zp[6],
        in_offset=off["in"],
        out_offset=off["fc"],
        in_size=sizes["in"],
        out_size=10,
    )
    payload = desc + bytes(data)
    return pack_header(hdr, payload) + payload
