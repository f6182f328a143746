"""``python -m experiments.fpga_exact`` reduced: a trained variant (the shared tiny run's t16) on
Fashion-MNIST test images and small models of the C engine's conformance corpus, through the
Verilated RTL: 0 differing int8 values against the C engine and LiteRT's reference kernels, on
the outputs and every overlay layer; a model the overlay cannot run is a row that says why.
The full table (every demo variant on 200 images, the whole corpus) is in docs/pynq.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import need_verilator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from make_corpus import ensure

pytestmark = pytest.mark.tf
#: per-channel and per-tensor weights, CONV/DEPTHWISE/1x1/FC/ADD/MEAN, and one refused model
CORPUS = ("kws_dscnn-pc-0", "dense_stack-ptdense-1", "residual_cnn-pt-1", "misc_ops-pc-0")


def test_trained_variant_and_corpus_exact(
    tiny_run: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    need_verilator()
    pytest.importorskip("ai_edge_litert")
    from experiments.fpga_exact import main

    corpus = ensure(Path(request.config.cache.mkdir("vp_engine_corpus_v1")), list(CORPUS))
    models = [tiny_run / "models" / "t16.tflite", *(corpus / f"{n}.tflite" for n in CORPUS)]
    out = tmp_path / "rows.json"
    rc = main([*map(str, models), "--images", "6", "--layers", "1", "--json", str(out)])
    rows = {r["model"]: r for r in json.loads(out.read_text())}
    assert rc == 0
    assert "AVERAGE_POOL_2D" in rows.pop("misc_ops-pc-0")["refused"]
    assert rows["t16"]["input_kind"] == "Fashion-MNIST test images"
    for name, r in rows.items():
        assert r["inputs"] == 6 and r["values"] >= 6 * 8, name
        assert r["layer_values"] > 0, name
        assert r["differing_engine"] == r["differing_litert"] == r["layer_differing"] == 0, name
