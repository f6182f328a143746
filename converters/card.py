"""Model cards and the costs behind them: parameters, MACs, bytes, tflite-micro arena.

MACs are counted from the int8 graph itself (weight and output shapes of every
CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED), and, for cross-checking, from
the Keras layers (``keras_macs``). The arena is searched by running the model
in tflite-micro in a worker process (``converters._arena_worker``): a too-small
arena is a clean error there, a far-too-small one can crash the process, which
the parent survives and goes on from.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from converters.errors import ArtifactError, ConversionError
from converters.interpreters import default_arena
from converters.tflite import Graph, read_graph
from firmware_bridge.files import write_file

WORKER = [sys.executable, "-m", "converters._arena_worker"]
STEP = re.compile(r"\d+ (report \d+|check \d+|try \d+|ok|fail|arena \d+)")


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
    """True when tflite-micro allocates and invokes with this arena, in a fresh process (the
    independent check of ``measure_arena``'s answer)."""
    cmd = [*WORKER, "--probe", str(tflite_path), str(arena)]
    r = subprocess.run(cmd, capture_output=True, timeout=120)
    return r.returncode == 0


def measure_arena(tflite_path: Path) -> int:
    """Smallest arena (bytes, 16-aligned) with which tflite-micro runs the model."""
    return measure_arenas([tflite_path])[0]


def measure_arenas(paths: list[Path]) -> list[int]:
    """``measure_arena`` of several models, searched in one worker process
    (``converters._arena_worker``); a worker that crashes on a far-too-small arena is replaced
    by one that goes on from the probe it died in, counted as failed."""
    return _search([{"path": str(p), "lo": None, "hi": None} for p in paths])


def _search(jobs: list[dict[str, Any]]) -> list[int]:
    """Run the worker on ``jobs`` (path, lo, hi: None until known) until each has its arena."""
    done: dict[int, int] = {}
    while len(done) < len(jobs):
        todo = [i for i in range(len(jobs)) if i not in done]
        r = subprocess.run(
            WORKER, input=json.dumps([jobs[i] for i in todo]), capture_output=True, text=True,
            timeout=300 * len(todo),
        )  # fmt: skip
        if _replay(r.stdout, todo, jobs, done) is not None:
            continue  # died in a probe: go on from there
        missing = [i for i in todo if i not in done]
        if missing:
            raise ConversionError(
                f"{Path(jobs[missing[0]]['path']).name}: tflite-micro cannot run the model even "
                f"with a large arena (exit {r.returncode}): {r.stderr.strip()[-400:]}"
            )
    return [done[i] for i in range(len(jobs))]


def _replay(out: str, todo: list[int], jobs: list[dict], done: dict[int, int]) -> int | None:
    """Bring ``jobs`` (lo, hi) and ``done`` up to what the worker printed; the job whose probe
    the worker died in (that probe counted as failed), or None when it ended between steps."""
    pending: dict[int, tuple[str, int]] = {}
    for line in out.splitlines():
        if not STEP.fullmatch(line):
            continue  # not the worker's (tflite-micro's own output)
        k, step, *rest = line.split()
        i = todo[int(k)]
        job = jobs[i]
        if step in ("check", "try"):
            pending[i] = (step, int(rest[0]))
        elif step in ("ok", "fail"):
            _settle(job, *pending.pop(i), good=step == "ok")
        elif step == "arena":
            done[i] = int(rest[0])
    for i, (step, arena) in pending.items():
        _settle(jobs[i], step, arena, good=False)
        return i
    return None


def _settle(job: dict, step: str, arena: int, good: bool) -> None:
    """One probe's outcome, as the search applies it (see ``_arena_worker.search``)."""
    if step == "check":
        job["lo"], job["hi"] = 0, arena if good else default_arena(Path(job["path"]).stat().st_size)
    elif good:
        job["hi"] = arena
    else:
        job["lo"] = arena


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
