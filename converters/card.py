"""Model cards and the costs behind them: parameters, MACs, bytes, tflite-micro arena.

MACs are counted from the int8 graph itself (weight and output shapes of every
CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED), and, for cross-checking, from
the Keras layers (``keras_macs``). The arena is measured by running the model
in tflite-micro in child processes: a far-too-small arena crashes the
interpreter, so the parent only ever sees exit codes.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from converters.errors import ArtifactError, ConversionError
from converters.interpreters import default_arena
from converters.tflite import Graph, read_graph
from firmware_bridge.files import write_file

ARENA_ALIGN = 16


def graph_macs(graph: Graph) -> int:
    """Multiply-accumulates of one inference, from tensor shapes of the int8 graph."""
    total = 0
    for op in graph.ops:
        if op.name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        w = graph.shapes[op.inputs[1]]
        out = graph.shapes[op.outputs[0]]
        if op.name == "CONV_2D":  # w: (Cout, kh, kw, Cin), out: (1, oh, ow, Cout)
            total += out[1] * out[2] * out[3] * w[1] * w[2] * w[3]
        elif op.name == "DEPTHWISE_CONV_2D":  # w: (1, kh, kw, Cout)
            total += out[1] * out[2] * out[3] * w[1] * w[2]
        else:  # w: (units, in)
            total += int(np.prod(out[:-1])) * w[0] * w[1]
    return int(total)


def keras_macs(model: Any) -> int:
    """The same count from a Keras model's layers (nested models included)."""
    import keras

    total = 0
    for layer in _leaf_layers(model):
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            out = layer.output.shape
            kh, kw = layer.kernel_size
            total += out[1] * out[2] * out[3] * kh * kw
        elif isinstance(layer, keras.layers.Conv2D):
            out = layer.output.shape
            kh, kw = layer.kernel_size
            total += out[1] * out[2] * out[3] * kh * kw * layer.input.shape[-1] // layer.groups
        elif isinstance(layer, keras.layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return int(total)


def _leaf_layers(model: Any) -> list[Any]:
    out = []
    for layer in model.layers:
        out.extend(_leaf_layers(layer) if hasattr(layer, "layers") else [layer])
    return out


def _probe(tflite_path: Path, arena: int) -> bool:
    """True when tflite-micro allocates and invokes with this arena (in a child process)."""
    cmd = [sys.executable, "-m", "converters._arena_worker", str(tflite_path), str(arena)]
    r = subprocess.run(cmd, capture_output=True, timeout=120)
    return r.returncode == 0


def measure_arena(tflite_path: Path) -> int:
    """Smallest arena (bytes, 16-aligned) with which tflite-micro runs the model."""
    cmd = [sys.executable, "-m", "converters._arena_worker", str(tflite_path), "report"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise ConversionError(
            f"{tflite_path.name}: tflite-micro cannot run the model even with a large arena "
            f"(exit {r.returncode}): {r.stderr.strip()[-400:]}"
        )
    hi = int(r.stdout.strip())
    if not _probe(tflite_path, hi):  # the recorded total under-reported
        hi = default_arena(tflite_path.stat().st_size)
    lo = 0  # known to fail (or unknown)
    while hi - lo > ARENA_ALIGN:
        mid = (lo + hi) // 2 // ARENA_ALIGN * ARENA_ALIGN
        if mid <= lo:
            break
        if _probe(tflite_path, mid):
            hi = mid
        else:
            lo = mid
    return hi


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def model_card(
    name: str,
    tflite: bytes,
    params: int,
    keras_mac_count: int | None,
    arena: int,
    float_accuracy: float | None,
    int8_accuracy: float | None,
    extra: dict | None = None,
) -> dict:
    """The JSON card written next to each .tflite."""
    graph = read_graph(tflite)
    card = {
        "name": name,
        "params": int(params),
        "macs": graph_macs(graph),
        "macs_keras": keras_mac_count,
        "tflite_bytes": len(tflite),
        "tflite_sha256": sha256(tflite),
        "arena_bytes": int(arena),
        "float_accuracy": float_accuracy,
        "int8_accuracy": int8_accuracy,
        "input_shape": list(graph.input_shape),
        "input_scale": graph.input_scale,
        "input_zero_point": graph.input_zero_point,
        "output_scale": graph.output_scale,
        "output_zero_point": graph.output_zero_point,
        "num_classes": int(graph.output_shape[-1]),
        "ops": sorted({op.name for op in graph.ops}),
    }
    card.update(extra or {})
    return card


def write_card(card: dict, path: Path) -> None:
    write_file(path, json.dumps(card, indent=2) + "\n")


def read_card(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ConversionError(f"cannot read model card {path}: {e}") from None


def check_model_card(
    model: bytes, card: dict, path: Path | str, run: Path | str | None = None
) -> None:
    """Refuse a .tflite whose bytes are not the ones its card describes (a re-convert stopped
    half-way, a corrupt copy): answers would be read under another model's quantisation."""
    want = card.get("tflite_sha256")
    if want is None or model[4:8] != b"TFL3":
        return
    got = sha256(model)
    if got != want:
        fix = f"vp-edge convert --run {run}" if run else "vp-edge convert"
        raise ArtifactError(
            f"{path}: SHA-256 {got[:16]}... is not its card's {want[:16]}... (model and card "
            f"come from different conversions, or the file is corrupt); run '{fix}' again"
        )


def check_model_file(model: bytes, path: Path | str) -> dict:
    """The one check before a model file is served or measured: a .vpw's payload must match
    its SHA-256, a .tflite the card beside it (when there is one). Returns that card ({})."""
    path = Path(path)
    if model[:4] == b"VPW1":
        from converters.vpw_format import read_vpw

        try:
            read_vpw(model)
        except ConversionError as e:
            raise ArtifactError(f"{path}: {e}; pack it again ('vp-edge pack')") from None
    card_path = path.with_suffix(".json")
    card = read_card(card_path) if card_path.exists() else {}
    check_model_card(model, card, path)
    return card
