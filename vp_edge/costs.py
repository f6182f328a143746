"""What a family costs before it is trained: per variant parameters, MACs, bytes, arena, fits.

Each variant is built untrained, its weights and BatchNormalization statistics set to random
values of a trained model's kind (a freshly initialised model has zero biases and identity
BatchNormalization, which the converter folds into a different graph with other tensor names,
so other byte counts), converted to full int8 exactly as ``vp-edge convert`` does, measured in
tflite-micro exactly as the card's arena is, and packed exactly as the boards' ``.vpw`` is. A
model's size and arena depend on its shapes, not on its trained values, so the figures are the
ones ``convert`` and ``pack`` give after training (tests/integration/test_costs_tiny.py).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from vp_edge.family import Family, Variant

CALIBRATION = 8  # random inputs: the scales change, the shapes and byte counts do not


def like_trained(model: Any, seed: int = 0) -> None:
    """Give ``model`` random weights of a trained model's kind (no zero bias, no identity
    BatchNormalization), so its int8 graph has the trained one's shape and tensor names."""
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = ws
            new = [
                rng.uniform(0.5, 1.5, gamma.shape),
                rng.normal(0, 0.1, beta.shape),
                rng.normal(0, 0.1, mean.shape),
                rng.uniform(0.5, 1.5, var.shape),
            ]
        else:
            new = [w if w.any() else rng.normal(0, 0.05, w.shape) for w in ws]
        layer.set_weights([n.astype(w.dtype) for n, w in zip(new, ws, strict=True)])


def _spread_logits(model: Any, v: Variant, x: np.ndarray, target_std: float = 4.0) -> None:
    """Scale the untrained classifier so its logits spread as a trained one's do: tflite-micro's
    SOFTMAX aborts on the near-constant logits of random weights (a tiny input scale)."""
    from vp_edge.models import _keras

    dense = model.get_layer(f"{v.name}_logits")
    logits = _keras().Model(model.input, dense.output)(x, training=False)
    std = float(np.std(np.asarray(logits)))
    w, b = dense.get_weights()
    dense.set_weights([w * (target_std / max(std, 1e-6)), b])


def untrained_int8(
    family: Family, v: Variant, rep: np.ndarray, seed: int = 0, spread_logits: bool = False
) -> tuple[Any, bytes]:
    """``v`` built with random weights of a trained model's kind (``like_trained``) and
    converted to full int8 as ``vp-edge convert`` does, calibrated on ``rep``: (Keras model,
    .tflite). The one conversion of untrained variants, for ``family show --costs`` and the
    planner's candidates (``spread_logits``: see ``_spread_logits``)."""
    from converters.tflite import to_int8_tflite
    from vp_edge.models import variant_model

    model = variant_model(family, v)
    like_trained(model, seed)
    if spread_logits:
        _spread_logits(model, v, rep)
    return model, to_int8_tflite(model, rep, name=v.name)


def untrained_tflite(family: Family, name: str) -> tuple[bytes, int]:
    """Variant ``name`` through ``untrained_int8`` (see the module docstring): its ``.tflite``
    and parameters. Run in a worker process by ``family_costs``."""
    from converters.quiet import import_tensorflow

    import_tensorflow()
    v = family.variant(name)
    rep = np.random.default_rng(0).random((CALIBRATION, *family.input_shape), dtype=np.float32)
    model, tflite = untrained_int8(family, v, rep)
    return tflite, int(model.count_params())


def variant_cost(v: Variant, tflite: bytes, params: int, arena: int) -> tuple[dict, bytes]:
    """One variant's costs from its untrained conversion and tflite-micro arena, and its
    boards' ``.vpw`` (packed as ``vp-edge emulate`` and ``pack --target cortex-m4`` do)."""
    from converters.card import graph_macs
    from converters.tflite import read_graph
    from converters.vpw_format import read_vpw
    from converters.vpw_run import board_vpw

    vpw = board_vpw(tflite)
    return {"name": v.name, "resolution": v.resolution, "alpha": v.alpha, "head": v.head,
            "params": params, "macs": graph_macs(read_graph(tflite)),
            "tflite_bytes": len(tflite), "arena_bytes": arena, "vpw_bytes": len(vpw),
            "vpw_arena_bytes": int(read_vpw(vpw).header["arena_size"]),
            }, vpw  # fmt: skip


def profile_fits(name: str, tflite_bytes: int, arena_bytes: int, vpw: bytes) -> dict:
    """Profile -> how the variant runs on it (``tflite``: tflite-micro or LiteRT within its
    RAM and storage; ``vpw``: the C engine, in the firmware's slot and arena on an MCU with a
    firmware target) or why it does not (``no: ...``)."""
    from boards.emulators import firmware_misfit
    from boards.profiles import PROFILES, check_fit
    from converters.vpw_format import read_vpw
    from vp_edge.errors import VpEdgeError

    vpw_arena = int(read_vpw(vpw).header["arena_size"])
    out = {}
    for p in PROFILES.values():
        ways, why = [], []
        tries = (
            [("vpw", vpw_arena, len(vpw))]
            if p.kind == "pynq"
            else [("tflite", arena_bytes, tflite_bytes)]
        )
        for way, arena, size in tries:
            try:
                check_fit(p, name, arena, size)
                ways.append(way)
            except VpEdgeError as e:
                why.append(str(e).split(": ", 1)[1].split(";")[0])
        if p.kind == "mcu" and p.firmware_target:
            misfit = firmware_misfit(vpw, p.firmware_target)
            if misfit is None:
                ways.append("vpw")
            else:
                why.append(f"firmware {p.firmware_target}: {misfit}")
        out[p.name] = " + ".join(ways) if ways else "no: " + "; ".join(why)
    return out


def family_costs(
    family: Family, on_variant: Callable[[str], None] | None = None, workers: int | None = None
) -> list[dict]:
    """Every variant's costs (``variant_cost``) and the board profiles it fits. The conversions
    (TensorFlow's converter, about 10 s of CPU each, one thread) run in ``workers`` processes
    (default: one per core, at most one per variant); the arenas are searched in one worker."""
    from converters.card import measure_arenas

    n = workers or max(1, min(os.cpu_count() or 1, len(family.variants)))
    converted: dict[str, tuple[bytes, int]] = {}
    with ProcessPoolExecutor(n, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(untrained_tflite, family, v.name): v.name for v in family.variants}
        for f in as_completed(futures):
            converted[futures[f]] = f.result()
            if on_variant is not None:
                on_variant(futures[f])
    with tempfile.TemporaryDirectory(prefix="vp-edge-costs-") as tmp:
        paths = [Path(tmp) / f"{v.name}.tflite" for v in family.variants]
        for v, path in zip(family.variants, paths, strict=True):
            path.write_bytes(converted[v.name][0])
        arenas = measure_arenas(paths)
    rows = []
    for v, arena in zip(family.variants, arenas, strict=True):
        row, vpw = variant_cost(v, *converted[v.name], arena)
        row["fits"] = profile_fits(v.name, row["tflite_bytes"], arena, vpw)
        rows.append(row)
    return rows


def costs_table(rows: list[dict]) -> str:
    """The costs for people: one line per variant, then where each fits."""
    lines = [
        f"{'variant':12} {'r':>4} {'alpha':>6} {'F':>5} {'params':>9} {'MACs':>11} "
        f"{'tflite B':>9} {'arena B':>8} {'vpw B':>9} {'vpw arena B':>11}"
    ]
    for r in rows:
        lines.append(
            f"{r['name']:12} {r['resolution']:>4} {r['alpha']:>6.2f} {r['head']:>5} "
            f"{r['params']:>9,} {r['macs']:>11,} {r['tflite_bytes']:>9,} "
            f"{r['arena_bytes']:>8,} {r['vpw_bytes']:>9,} {r['vpw_arena_bytes']:>11,}"
        )
    lines.append(
        "fits (tflite: tflite-micro/LiteRT within the profile's RAM and storage; vpw: "
        "the C engine, in the firmware's slot and arena):"
    )
    for r in rows:
        ok = [f"{p} ({how})" for p, how in r["fits"].items() if not how.startswith("no")]
        no = [p for p, how in r["fits"].items() if how.startswith("no")]
        lines.append(
            f"  {r['name']:12} {', '.join(ok) or 'no profile'}"
            + (f"; not {', '.join(no)}" if no else "")
        )
    return "\n".join(lines)
