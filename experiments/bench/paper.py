"""The comparison at the paper's input size: int8 MobileNetV2-1.0 and VP variants at 224x224.

A 28x28 data set cannot show what VP saves at camera resolutions: its whole input is 784 bytes,
so no cut inside any network on it ships more than a few hundred bytes. What a graph costs
(tensor shapes at every cut, MACs, parameters, bytes, compute time) does not depend on its
weights, so this section builds the paper's grid with the family generator used everywhere
else (alpha 0.35, r = 96..224, F = 256 + 64 i, output stride 32; baseline alpha 1.0 at 224),
converts each model to full int8 with our converter (calibrated on random images: the weights
are untrained), and measures those graphs. No accuracy is taken from them.

Building and converting needs TensorFlow (the ``train`` extra) and runs in a child process;
the graphs are cached under ``<run>/paper_scale/``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from experiments.bench.comm import cheapest_trunk_cuts, framed, mp_cuts, result_bytes
from experiments.bench.figures import fig, fig_range, median_time
from vp_edge.family import Family, grid
from vp_edge.train import BASELINE

INPUT = (224, 224, 3)
RESOLUTIONS = (96, 128, 160, 192, 224)
QUICK_RESOLUTIONS = (96, 224)
CALIBRATION_IMAGES = 4
_ROOT = Path(__file__).resolve().parents[2]
_SOURCES = (_ROOT / "vp_edge" / "models.py", _ROOT / "converters" / "tflite.py")


def paper_family(num_classes: int, resolutions: tuple[int, ...] = RESOLUTIONS) -> Family:
    """The paper's alpha=0.35 grid on a shared 224x224x3 input (baseline at max r)."""
    return Family(
        name="paper224",
        input_shape=INPUT,
        num_classes=num_classes,
        variants=grid(list(resolutions), [0.35]),
        output_stride=32,
    )


def _build_and_convert(family_doc: dict, out: str) -> dict:
    """Child process: build every model of the family and the baseline, write int8 .tflite."""
    from converters.tflite import to_int8_tflite
    from vp_edge import models
    from vp_edge.family import from_dict

    family = from_dict(family_doc)
    rng = np.random.default_rng(0)
    calib = rng.random((CALIBRATION_IMAGES, *family.input_shape), dtype=np.float32)
    params = {}
    builders = {v.name: (lambda v=v: models.variant_model(family, v)) for v in family.variants}
    builders[BASELINE] = lambda: models.baseline_model(family)
    for name, build in builders.items():
        model = build()
        params[name] = int(model.count_params())
        Path(out, f"{name}.tflite").write_bytes(to_int8_tflite(model, calib, name))
    return params


def graphs(run: Path, family: Family) -> tuple[Path, dict]:
    """(directory of int8 graphs, params per model), built once per family and source."""
    doc = family.to_dict()
    h = hashlib.sha256(json.dumps(doc, sort_keys=True).encode())
    for src in _SOURCES:  # a changed generator or converter invalidates the cache
        h.update(src.read_bytes())
    key = h.hexdigest()[:12]
    out = Path(run) / "paper_scale" / key
    meta = out / "params.json"
    if meta.exists():
        return out, json.loads(meta.read_text())
    out.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        params = pool.submit(_build_and_convert, doc, str(out)).result()
    meta.write_text(json.dumps(params, indent=2))
    return out, params


def _time_model(path: str, repeats: int, min_run_s: float) -> dict:
    """Child process: median seconds per batch-1 inference on LiteRT's optimised kernels.

    Each of ``repeats`` runs makes enough calls to last about ``min_run_s``.
    """
    from experiments.bench.timing import _calls_for
    from vp_edge.runtime import TfliteRunner

    r = TfliteRunner(Path(path), kernels="builtin")
    x = np.zeros(r.input_shape, dtype=np.int8)
    inner = _calls_for(lambda: r.run(x), min_run_s)
    return {**median_time(lambda: r.run(x), repeats, inner), "inner": inner}


def _cost_rows(folder: Path, family: Family, params: dict, repeats: int, min_run_s: float) -> dict:
    from converters.card import graph_macs
    from converters.tflite import read_graph

    names = [v.name for v in family.variants] + [BASELINE]
    rows = {}
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        for name in names:
            data = (folder / f"{name}.tflite").read_bytes()
            path = str(folder / f"{name}.tflite")
            t = pool.submit(_time_model, path, repeats, min_run_s).result()
            how = (
                f"LiteRT builtin kernels, 1 thread, median of {t['runs']} runs x "
                f"{t['inner']} calls, batch 1, untrained int8 graph"
            )
            rows[name] = {
                "params": fig(params[name], "measured", "", "Keras count_params"),
                "macs": fig(
                    graph_macs(read_graph(data)), "measured", "MAC", "counted from the int8 graph"
                ),
                "tflite_bytes": fig(len(data), "measured", "B", "int8 .tflite"),
                "compute_s": fig(t["median_s"], "measured", "s", how),
            }
    base = rows[BASELINE]
    for name in names[:-1]:
        r = rows[name]
        r["params_ratio"] = fig(
            base["params"]["value"] / r["params"]["value"],
            "measured",
            "x",
            "baseline params / variant params",
        )
        r["macs_ratio"] = fig(
            base["macs"]["value"] / r["macs"]["value"],
            "measured",
            "x",
            "baseline MACs / variant MACs",
        )
    return rows


def paper_scale(
    run: Path, num_classes: int, k: int, quick: bool, repeats: int, min_run_s: float
) -> dict:
    """Communication, cost and compute at 224x224, every figure measured on real int8 graphs."""
    family = paper_family(num_classes, QUICK_RESOLUTIONS if quick else RESOLUTIONS)
    folder, params = graphs(run, family)
    rows = _cost_rows(folder, family, params, repeats, min_run_s)
    cuts = mp_cuts((folder / f"{BASELINE}.tflite").read_bytes())
    return {
        "family": family.to_dict(),
        "method": "untrained weights (cost only, no accuracy); int8 graphs from vp-edge's "
        "converter; cached in " + str(folder),
        "models": rows,
        **_comm_figures(cuts, len(family.variants), k),
        **_compute_figures(rows, [v.name for v in family.variants]),
    }


def _comm_figures(cuts: list[dict], n: int, k: int) -> dict:
    """MP's cheapest cuts of the baseline against ``n`` VP RESULT frames of top-``k``."""
    trunk = cheapest_trunk_cuts(cuts)
    cheapest = trunk[0]
    rb = result_bytes(k)
    cut_b = cheapest["activation_bytes"]["value"]
    n_stage = sum(c["activation_bytes"]["value"] for c in trunk[: n - 1])
    return {
        "mp_cheapest_cut": {
            "op_index": cheapest["op_index"],
            "op": cheapest["op"],
            "shape": cheapest["shape"],
            "activation_bytes": cheapest["activation_bytes"],
            "framed_udp_bytes": fig(framed(cut_b)[0], "measured", "B", "in INFER-sized frames"),
        },
        "mp_cuts": [
            {
                "op_index": c["op_index"],
                "region": c["region"],
                "activation_bytes": c["activation_bytes"],
            }
            for c in cuts
        ],
        "mp_n_stage_bytes": fig(
            n_stage,
            "measured",
            "B",
            f"sum of the {n - 1} cheapest trunk cuts: an {n}-device pipeline ships at least this",
        ),
        "result_frame_udp_bytes": fig(rb["udp"], "measured", "B", "result_frame_size(k)"),
        "input_bytes": fig(
            int(np.prod(INPUT)),
            "measured",
            "B",
            "224x224x3 int8 input each VP board receives (unless it has its own sensor)",
        ),
        **_ratios(cut_b, n_stage, n, rb),
    }


def _ratios(cut_b: int, n_stage: int, n: int, rb: dict) -> dict:
    return {
        "ratio_per_board": fig(
            cut_b / rb["udp"], "measured", "x", "MP cheapest cut / one VP RESULT frame"
        ),
        "ratio_all_boards": fig(
            cut_b / (n * rb["udp"]), "measured", "x", f"MP cheapest cut / {n} VP RESULT frames"
        ),
        "ratio_same_devices": fig(
            n_stage / (n * rb["udp"]),
            "measured",
            "x",
            f"{n}-device MP pipeline / {n}-board VP, bytes sent",
        ),
        "ratio_payload_per_board": fig(
            cut_b / rb["payload"],
            "measured",
            "x",
            "MP cheapest cut / one RESULT payload (2k values)",
        ),
    }


def _compute_figures(rows: dict, variants: list[str]) -> dict:
    """Baseline compute against the slowest and fastest variant; cost ratios over variants."""
    slowest = max(rows[v]["compute_s"]["value"] for v in variants)
    fastest = min(rows[v]["compute_s"]["value"] for v in variants)
    base_s = rows[BASELINE]["compute_s"]["value"]
    return {
        "compute_ratio_slowest": fig(
            base_s / slowest,
            "measured",
            "x",
            "baseline compute / slowest variant (VP waits for it)",
        ),
        "compute_ratio_fastest": fig(
            base_s / fastest, "measured", "x", "baseline compute / fastest variant"
        ),
        "macs_ratio_range": fig_range(
            [rows[v]["macs_ratio"]["value"] for v in variants],
            "measured",
            "over variants (low: the largest)",
        ),
        "params_ratio_range": fig_range(
            [rows[v]["params_ratio"]["value"] for v in variants],
            "measured",
            "over variants (low: the largest)",
        ),
    }
