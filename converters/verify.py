"""Prove the C engine bit-exact against LiteRT's reference kernels on given inputs.

Used by the tests, by ``vp-edge pack --verify`` and by evaluation/bench code on real variants.
LiteRT must not run in a process that has just converted with TensorFlow (it aborts there):
call this from a process that did not convert, or from a subprocess.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from converters.errors import ConversionError
from converters.interpreters import reference_interpreter
from converters.vpw import tflite_to_vpw


def _reference_outputs(it: Any, inputs: np.ndarray) -> np.ndarray:
    din, dout = it.get_input_details()[0], it.get_output_details()[0]
    outs = []
    for x in inputs:
        it.set_tensor(din["index"], x.reshape(din["shape"]))
        it.invoke()
        outs.append(it.get_tensor(dout["index"]).ravel().copy())
    return np.stack(outs)


def first_bad_layer(tflite_bytes: bytes, vpw: bytes, x: np.ndarray) -> dict | None:
    """Run one input layer by layer in both and name the first layer whose tensor differs."""
    from firmware_bridge.engine import Engine

    it = reference_interpreter(tflite_bytes, preserve=True)
    din = it.get_input_details()[0]
    it.set_tensor(din["index"], x.reshape(din["shape"]))
    it.invoke()
    for op_index, tensor, ours in Engine(vpw).run_layers(x):
        ref = it.get_tensor(tensor).ravel()
        bad = int(np.count_nonzero(ref != ours))
        if bad:
            name = next(
                (o["op_name"] for o in it._get_ops_details() if o["index"] == op_index), "?"
            )
            return dict(op_index=op_index, op=name, tensor=tensor, differing=bad, values=ref.size)
    return None


def compare_with_reference(
    tflite_bytes: bytes, inputs: np.ndarray, vpw: bytes | None = None
) -> dict:
    """Run every input through LiteRT BUILTIN_REF and through the C engine on the .vpw.

    Returns ``values`` (int8 outputs compared), ``differing`` (how many differ), ``inputs``,
    ``max_abs_diff`` and ``first_bad_layer`` (None when identical; else the first layer whose
    tensor differs on the first failing input).
    """
    from firmware_bridge.engine import Engine

    vpw = vpw if vpw is not None else tflite_to_vpw(tflite_bytes)
    inputs = np.asarray(inputs)
    if inputs.dtype != np.int8:
        raise ConversionError(f"inputs must be int8 (quantised), got {inputs.dtype}")
    eng = Engine(vpw)
    n_in = eng.info["input_size"]
    inputs = inputs.reshape(-1, n_in)
    ref = _reference_outputs(reference_interpreter(tflite_bytes), inputs)
    ours = np.stack([eng.run(x).ravel() for x in inputs])
    diff = ours != ref
    result: dict[str, Any] = dict(
        inputs=len(inputs),
        values=int(ref.size),
        differing=int(diff.sum()),
        max_abs_diff=int(np.abs(ours.astype(int) - ref.astype(int)).max()) if ref.size else 0,
        first_bad_layer=None,
    )
    if result["differing"]:
        bad = int(np.argmax(diff.any(axis=1)))
        result["first_bad_layer"] = first_bad_layer(tflite_bytes, vpw, inputs[bad])
    return result
