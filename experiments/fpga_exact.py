"""Exactness of the RTL-simulated FPGA overlay: the int8 values it gives against the C engine and
LiteRT's reference kernels, model by model, one table.

``python -m experiments.fpga_exact --run RUN --corpus DIR [MODEL ...] --images 200``

Models: every variant of a trained run (the ``.vpw`` a board runs: ``converters.vpw_run.
board_vpw`` of the variant's ``.tflite``), every ``.tflite`` of a folder (the C engine's
conformance corpus, ``tests/engine/make_corpus.py``, packed as its test packs them) and any
``.tflite`` / ``.vpw`` named. Inputs: Fashion-MNIST test images quantised with the model's input
scale for 28x28x1 models, else half uniform int8 noise and half smooth real-looking images.
A model the overlay refuses is a row that says why (never run approximately). Exit 4 when any
value differs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EXIT_DIFFERS = 4


@dataclass
class Model:
    name: str
    vpw: bytes
    tflite: bytes | None  # the LiteRT reference runs where the .tflite is known


def fashion_inputs(vpw: bytes, n: int) -> np.ndarray:
    """The first n Fashion-MNIST test images, quantised as the gateway quantises them."""
    from converters.vpw_format import read_vpw
    from vp_edge.data import FASHION_MNIST_DIR, read_idx
    from vp_edge.preprocess import quantize

    h = read_vpw(vpw).header
    imgs = read_idx(Path(FASHION_MNIST_DIR) / "t10k-images-idx3-ubyte.gz")[:n]
    return quantize(imgs.reshape(n, 28, 28, 1), float(h["in_scale"]), int(h["in_zp"]))


def synthetic_inputs(vpw: bytes, n: int, seed: int = 7) -> np.ndarray:
    """Half uniform int8 noise, half smooth images (ramp + blob + noise) quantised with the
    input's scale: values a sensor would give, not only noise."""
    from converters.vpw_format import read_vpw

    m = read_vpw(vpw)
    shape = tuple(int(s) for s in m.input_shape[1:])
    rng = np.random.default_rng(seed)
    noise = rng.integers(-128, 128, (n - n // 2, *shape), dtype=np.int8)
    h, w = (shape[0], shape[1]) if len(shape) == 3 else (1, int(np.prod(shape)))
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    smooth = []
    for _ in range(n // 2):
        cy, cx, r = rng.uniform(0, 1, 3)
        img = 0.4 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (0.05 + 0.2 * r))
        img = (img + 0.3 * yy * rng.uniform()).reshape(-1)
        img = np.resize(img, int(np.prod(shape))) + rng.uniform(0, 0.3, int(np.prod(shape)))
        q = np.round(np.clip(img, 0, 0.999) / m.header["in_scale"]) + m.header["in_zp"]
        smooth.append(np.clip(q, -128, 127).astype(np.int8).reshape(shape))
    return np.concatenate([noise, np.stack(smooth)]) if smooth else noise


def model_inputs(vpw: bytes, n: int) -> tuple[np.ndarray, str]:
    from converters.vpw_format import read_vpw

    if tuple(read_vpw(vpw).input_shape[1:]) == (28, 28, 1):
        return fashion_inputs(vpw, n), "Fashion-MNIST test images"
    return synthetic_inputs(vpw, n), "random + real-looking"


def _reference(tflite: bytes, xs: np.ndarray) -> np.ndarray:
    from converters.interpreters import reference_interpreter
    from converters.verify import _reference_outputs

    return _reference_outputs(reference_interpreter(tflite), xs).reshape(len(xs), -1)


def check_model(m: Model, images: int, layers: int) -> dict:
    """One row: the RTL's outputs on ``images`` inputs against the C engine and LiteRT's
    reference kernels, and every overlay layer's result on the first ``layers`` inputs."""
    from firmware_bridge.engine import Engine
    from fpga.bench import layer_check
    from fpga.errors import FpgaError, ToolFailed, ToolMissing
    from fpga.program import read_program
    from fpga.sim import RtlSim

    row: dict = {"model": m.name}
    try:
        read_program(m.vpw)  # refused at pack time, naming the layer (never run approximately)
    except (ToolFailed, ToolMissing):
        raise
    except FpgaError as e:
        return {**row, "refused": str(e)}
    sim = RtlSim(m.vpw)
    xs, kind = model_inputs(m.vpw, images)
    eng = Engine(m.vpw)
    t0 = time.perf_counter()
    got = np.stack([sim.run(x)[0].reshape(-1) for x in xs])
    sim_s = (time.perf_counter() - t0) / len(xs)
    want = np.stack([eng.run(x).reshape(-1) for x in xs])
    row.update(
        inputs=len(xs),
        input_kind=kind,
        values=int(want.size),
        differing_engine=int(np.sum(got != want)),
        differing_litert=None,
        sim_s_per_inference=round(sim_s, 4),
    )
    if m.tflite is not None:
        row["differing_litert"] = int(np.sum(got != _reference(m.tflite, xs)))
    ld = lv = 0
    for x in xs[:layers]:
        d, v = layer_check(sim, eng, x)
        ld, lv = ld + d, lv + v
    row.update(layer_inputs=min(layers, len(xs)), layer_values=lv, layer_differing=ld)
    sim.close()
    return row


def gather(args: argparse.Namespace) -> list[Model]:
    """The models named by --run, --corpus and the positional paths."""
    from converters.vpw import tflite_to_vpw
    from converters.vpw_run import board_vpw

    out: list[Model] = []
    if args.run:
        from converters.rundir import RunDir

        fam = json.loads(RunDir(args.run).family.read_text())
        for v in fam["variants"]:
            tfl = RunDir(args.run).model(v["name"]).read_bytes()
            out.append(Model(v["name"], board_vpw(tfl), tfl))
    if args.corpus:
        for p in sorted(Path(args.corpus).glob("*.tflite")):
            out.append(Model(p.stem, tflite_to_vpw(p.read_bytes()), p.read_bytes()))
    for p in args.models:
        blob = p.read_bytes()
        if p.suffix == ".tflite":
            out.append(Model(p.stem, board_vpw(blob), blob))
        else:
            out.append(Model(p.stem, blob, None))
    return out


def differing(row: dict) -> int:
    return sum(
        int(row.get(k) or 0) for k in ("differing_engine", "differing_litert", "layer_differing")
    )


def table(rows: list[dict]) -> str:
    """Markdown: one row per model, refused ones with their reason."""
    head = (
        "| model | inputs | output values | differing vs C engine | differing vs LiteRT ref "
        "| layer values (first inputs) | differing |\n|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        if "refused" in r:
            lines.append(f"| {r['model']} | refused: {r['refused'][:90]} | | | | | |")
            continue
        lit = "-" if r["differing_litert"] is None else f"{r['differing_litert']:,}"
        lines.append(
            f"| {r['model']} | {r['inputs']} ({r['input_kind']}) | {r['values']:,} "
            f"| {r['differing_engine']:,} | {lit} | {r['layer_values']:,} "
            f"({r['layer_inputs']}) | {r['layer_differing']:,} |"
        )
    ran = [r for r in rows if "refused" not in r]
    lines.append(
        f"\n{len(ran)} models run, {len(rows) - len(ran)} refused; "
        f"{sum(differing(r) for r in ran)} differing int8 values in all"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.fpga_exact", description=__doc__)
    ap.add_argument("models", nargs="*", type=Path, help=".tflite or .vpw files")
    ap.add_argument("--run", type=Path, help="a trained run: every variant of its family")
    ap.add_argument("--corpus", type=Path, help="a folder of .tflite models")
    ap.add_argument("--images", type=int, default=200, help="inputs per model (default 200)")
    ap.add_argument("--layers", type=int, default=2, help="layer-by-layer check on the first K")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = ap.parse_args(argv)
    models = gather(args)
    if not models:
        ap.error("name models: --run RUN, --corpus DIR or paths")
    rows = []
    for m in models:
        rows.append(check_model(m, args.images, args.layers))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    print(table(rows))
    return EXIT_DIFFERS if any(differing(r) for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
