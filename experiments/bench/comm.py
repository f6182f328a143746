"""Section 3, communication per inference: VP vs model parallelism (MP) vs class parallelism (CP).

VP: each board sends one RESULT frame (``result_frame_size(k)``) and receives its input as
INFER frames; both are encoded here with the real codec, so the byte counts are the wire's.
MP: the baseline's int8 graph cut after every op in topological order; the bytes at a cut are
every activation produced before it and read after it (skip connections included), shipped in
INFER-sized frames. CP (sensAI): one sub-model per class group returning its group's scores;
computed analytically (no class-group sub-models are trained by the bench). The same
comparison at the paper's 224x224 input is in ``paper.py``.
Link times use 10 bits per byte on a UART and the frame bytes at a nominal network rate.
"""

from __future__ import annotations

import math

import numpy as np

import firmware_bridge as fb
from experiments.bench.context import BenchContext
from experiments.bench.figures import fig
from vp_edge.train import BASELINE

BAUD = 115200
WIFI_BPS = 20e6
KEY = b"vp-edge bench key"  # any key: only frame sizes matter
FRAME_OVERHEAD = (
    fb.protocol.HEADER_SIZE
    + fb.protocol.TAG_SIZE
    + fb.protocol.CRC_SIZE
    + fb.protocol.INFER_CHUNK_HEADER
)


def serial_size(n: int) -> int:
    """Bytes on a UART for an n-byte frame: COBS bound plus the 0x00 delimiter (protocol.md)."""
    return n + math.ceil(n / 254) + 1


def uart_s(nbytes: float, baud: int = BAUD) -> float:
    return nbytes * 10.0 / baud


def net_s(nbytes: float, bps: float = WIFI_BPS) -> float:
    return nbytes * 8.0 / bps


def infer_frames(tensor: bytes) -> dict:
    """UDP and serial bytes of the INFER frames that carry ``tensor`` (secure frames)."""
    sender = fb.Sender(KEY, fb.Counter(1), board_id=1, from_gateway=True)
    frames = [sender.frame(m, 1) for m in fb.split_infer(tensor, secure=True)]
    return {
        "frames": len(frames),
        "udp": sum(len(f) for f in frames),
        "serial": sum(len(fb.to_serial(f)) for f in frames),
    }


def result_bytes(k: int) -> dict:
    n = fb.result_frame_size(k)
    return {"udp": n, "serial": serial_size(n), "payload": 5 + 3 * k}


def _link_figs(udp: float, serial: float, what: str) -> dict:
    return {
        "uart_115200_s": fig(
            uart_s(serial), "modelled", "s", f"{what}: serial bytes x 10 bits / 115200 baud"
        ),
        "wifi_20mbps_s": fig(net_s(udp), "modelled", "s", f"{what}: frame bytes x 8 / 20 Mbit/s"),
    }


def fixed_input(ctx: BenchContext, name: str) -> np.ndarray:
    """The first test image as ``name``'s int8 input tensor (what INFER carries)."""
    from vp_edge.preprocess import quantize

    c = ctx.cards[name]
    return quantize(ctx.test.x[:1], c["input_scale"], c["input_zero_point"])[0]


def vp_comm(ctx: BenchContext) -> dict:
    """RESULT bytes per board and in total, and the INFER bytes each board receives."""
    n = len(ctx.variants)
    rb = result_bytes(ctx.k)
    boards = []
    for name in ctx.variants + ([BASELINE] if ctx.has_baseline else []):
        t = fixed_input(ctx, name).tobytes()
        inf = infer_frames(t)
        boards.append(
            {
                "name": name,
                "input_tensor_bytes": fig(len(t), "measured", "B", "int8 input tensor"),
                "infer_udp_bytes": fig(inf["udp"], "measured", "B", "encoded INFER frames"),
                "infer_serial_bytes": fig(
                    inf["serial"], "measured", "B", "INFER frames, COBS + delimiter"
                ),
            }
        )
    how = "result_frame_size(k), secure"
    return {
        "boards": [b for b in boards if b["name"] != BASELINE],
        "baseline_input": next((b for b in boards if b["name"] == BASELINE), None),
        "result_frame_udp_bytes": fig(rb["udp"], "measured", "B", how),
        "result_frame_serial_bytes": fig(rb["serial"], "measured", "B", how + ", COBS"),
        "result_payload_bytes": fig(rb["payload"], "measured", "B", "RESULT payload (5 + 3k)"),
        "result_total_udp_bytes": fig(rb["udp"] * n, "measured", "B", f"{n} boards x frame"),
        "result_total_serial_bytes": fig(rb["serial"] * n, "measured", "B", f"{n} boards"),
        "link_per_board": _link_figs(rb["udp"], rb["serial"], "one RESULT"),
    }


def framed(nbytes: int) -> tuple[int, int]:
    """(UDP, serial) bytes of ``nbytes`` of activation shipped in INFER-sized frames."""
    cap = fb.chunk_capacity()
    sizes = [min(cap, nbytes - s) + FRAME_OVERHEAD for s in range(0, max(nbytes, 1), cap)]
    return sum(sizes), sum(serial_size(n) for n in sizes)


def mp_cuts(tflite: bytes) -> list[dict]:
    """Every cut after op i of the int8 graph: live activation bytes crossing it."""
    from converters.tflite import read_graph

    g = read_graph(tflite)
    last_use: dict[int, int] = {}
    for i, op in enumerate(g.ops):
        for t in op.inputs:
            last_use[t] = i
    produced = {t: i for i, op in enumerate(g.ops) for t in op.outputs}
    pooled = False
    cuts = []
    for i, op in enumerate(g.ops[:-1]):
        out_hw = g.shapes[op.outputs[0]][1:-1]
        pooled = pooled or (op.name in ("MEAN", "AVERAGE_POOL_2D") and int(np.prod(out_hw)) == 1)
        live = [t for t, p in produced.items() if p <= i and last_use.get(t, -1) > i]
        nbytes = int(sum(np.prod(g.shapes[t]) for t in live))
        udp, serial = framed(nbytes)
        cuts.append(
            {
                "op_index": i,
                "op": op.name,
                "shape": [list(g.shapes[t]) for t in live],
                "region": "head" if pooled else "trunk",
                "activation_bytes": fig(nbytes, "measured", "B", "int8 tensors live at cut"),
                "framed_udp_bytes": fig(udp, "measured", "B", "in INFER-sized frames"),
                **_link_figs(udp, serial, "activation"),
            }
        )
    return cuts


def cheapest_trunk_cuts(cuts: list[dict]) -> list[dict]:
    """The cuts before global pooling (all cuts if there are none), cheapest first."""
    trunk = [c for c in cuts if c["region"] == "trunk"] or cuts
    return sorted(trunk, key=lambda c: c["activation_bytes"]["value"])


def cp_comm(ctx: BenchContext, groups: int) -> dict:
    """sensAI-style class parallelism: each of ``groups`` boards returns its group's scores."""
    C = ctx.family.num_classes
    sizes = [C // groups + (1 if i < C % groups else 0) for i in range(groups)]
    frames = [fb.result_frame_size(s) for s in sizes]
    return {
        "groups": [
            {
                "classes": fig(s, "modelled", "classes", "balanced class groups"),
                "result_udp_bytes": fig(
                    f, "modelled", "B", "RESULT with the group's (class, score) pairs"
                ),
            }
            for s, f in zip(sizes, frames, strict=True)
        ],
        "total_udp_bytes": fig(sum(frames), "modelled", "B", "sum over groups"),
        "total_serial_bytes": fig(
            sum(serial_size(f) for f in frames), "modelled", "B", "sum over groups, COBS"
        ),
        "method": "analytic: no class-group sub-models trained by the bench",
    }


def communication(ctx: BenchContext) -> dict:
    """The whole section, with the headline ratio VP vs MP's cheapest trunk cut."""
    vp = vp_comm(ctx)
    out: dict = {
        "vp": vp,
        "cp": cp_comm(ctx, len(ctx.variants)),
        "assumptions": {
            "uart_baud": BAUD,
            "wifi_bits_per_s": WIFI_BPS,
            "uart_bits_per_byte": 10,
            "secure_frames": True,
            "network_headers": "frame bytes only (no IP/UDP/MAC headers)",
        },
    }
    if ctx.has_baseline:
        cuts = mp_cuts(ctx.model_path(BASELINE).read_bytes())
        best = cheapest_trunk_cuts(cuts)[0]
        cheapest = best["activation_bytes"]["value"]
        total = vp["result_total_udp_bytes"]["value"]
        out["mp"] = {
            "cuts": cuts,
            "cheapest": best,
            "ratio_vs_vp_total": fig(
                cheapest / total, "measured", "x", "MP cheapest trunk cut / VP RESULTs, all boards"
            ),
            "ratio_vs_vp_board": fig(
                cheapest / vp["result_frame_udp_bytes"]["value"],
                "measured",
                "x",
                "MP cheapest trunk cut / one VP RESULT frame",
            ),
        }
    return out
