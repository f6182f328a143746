"""What the live demo's boards put on the wire: RESULT frame sizes for k <= 5 beside what model
parallelism would ship per variant (the smallest intermediate feature map, framed)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

import firmware_bridge as fb
from converters.rundir import RunDir

if TYPE_CHECKING:
    from vp_edge.deployment import Deployment

#: bytes around each chunk of a shipped activation: header, tag, CRC, chunk header (as INFER)
FRAME_OVERHEAD = fb.protocol.HEADER_SIZE + fb.protocol.TAG_SIZE + fb.protocol.CRC_SIZE + 12


def model_parallel_cut(tflite: bytes) -> dict:
    """The smallest intermediate int8 feature map (H*W > 1, before global pooling) as shipped."""
    from converters.tflite import read_graph

    g = read_graph(tflite)
    produced = {t for op in g.ops for t in op.outputs}
    maps = [
        (int(np.prod(g.shapes[t][1:])), t)
        for t in produced  # spatial maps: before pooling
        if len(g.shapes[t]) == 4 and g.shapes[t][1] * g.shapes[t][2] > 1
    ]
    nbytes, t = min(maps)
    cap = fb.chunk_capacity()
    frames = math.ceil(nbytes / cap)
    return {
        "shape": list(g.shapes[t]),
        "activation_bytes": nbytes,
        "frame_bytes": nbytes + frames * FRAME_OVERHEAD,
        "frames": frames,
    }


def wire_sizes(dep: Deployment) -> dict:
    """RESULT frame size for k <= 5 next to what model parallelism ships per variant."""
    result = {}
    for k in range(1, 6):
        n = fb.result_frame_size(k)
        result[str(k)] = {"udp": n, "serial": n + math.ceil(n / 254) + 1}
    variants = sorted({b.variant for b in dep.boards})
    cuts = {v: model_parallel_cut(RunDir(dep.run).model(v).read_bytes()) for v in variants}
    return {"result_frame_bytes": result, "model_parallel": cuts}
