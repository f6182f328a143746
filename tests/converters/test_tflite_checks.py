"""Graphs boards cannot run are refused with the op, its position and what to change."""

from __future__ import annotations

import numpy as np
import pytest

from converters.tflite import Graph, Op, check_graph
from converters.tflite_graph import Tensor
from vp_edge.errors import ConversionError


def graph(*names: str, io: str = "int8") -> Graph:
    ops = [Op(i, n, [0], [1]) for i, n in enumerate(names)]
    q = (np.array([1 / 255], np.float32), np.array([-128]))
    tensors = [Tensor(i, f"t{i}", (1, 4), np.dtype(io).type, *q) for i in (0, 1)]
    return Graph(tensors, ops, [0], [1])


def test_supported_graph_passes():
    check_graph(graph("CONV_2D", "MEAN", "FULLY_CONNECTED", "SOFTMAX"), "v")


def test_unsupported_ops_are_named_with_index_and_hint():
    with pytest.raises(ConversionError) as e:
        check_graph(graph("CONV_2D", "TOPK_V2", "REDUCE_MAX"), "a035_r24")
    msg = str(e.value)
    assert "a035_r24" in msg
    assert "op #1 TOPK_V2: remove top_k" in msg
    assert "op #2 REDUCE_MAX: use GlobalAveragePooling2D" in msg


def test_float_io_is_refused():
    with pytest.raises(ConversionError, match="input/output must be int8, got float32"):
        check_graph(graph("CONV_2D", io="float32"), "v")
