"""Each strategy end to end on a tiny budget: train one epoch, convert every part, run offline.

400 Fashion-MNIST test-split images (28x28x1) as a .npz, one epoch, parts converted without
the arena search (cards record 0), a handful of test images through the plan offline and then
live (one emulated board per part behind the gateway, live equal to offline, also with the
last part's board killed).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vp_edge.data import FASHION_MNIST_DIR

pytestmark = [pytest.mark.slow, pytest.mark.tf]
IMAGES = 12


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("tensorflow")
    if not (FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip("dataset-fashion-mnist is not installed (make test installs it)")
    from vp_edge.data import read_idx

    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    x = read_idx(FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz")[:560]
    y = read_idx(FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz")[:560].astype(np.int64)
    np.savez(path, x=x, y=y)
    return path


STRATEGIES = {
    "mp": {"cuts": 2},
    "cp": {"groups": 2},
    "lcp": {"branches": 2},
    "disco": {"keep": 0.25},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_npz: Path) -> dict[str, Path]:
    """Every strategy trained and converted, two at a time in their own processes."""
    import os
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("strategies")
    helper = Path(__file__).resolve().parents[1] / "strategy_helpers.py"
    env = {**os.environ, "PYTHONPATH": str(helper.parents[1])}
    runs, waiting = {}, list(STRATEGIES.items())
    running: list[tuple[str, subprocess.Popen]] = []
    while waiting or running:
        while waiting and len(running) < 2:
            name, opts = waiting.pop(0)
            runs[name] = root / name
            with (root / f"{name}.log").open("w") as log:
                running.append(
                    (
                        name,
                        subprocess.Popen(
                            [
                                sys.executable,
                                str(helper),
                                name,
                                json.dumps(opts),
                                str(runs[name]),
                                str(tiny_npz),
                            ],
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            env=env,
                        ),
                    )
                )
        name, proc = running.pop(0)
        if proc.wait() != 0:
            for _, other in running:
                other.kill()
            pytest.fail(f"training {name} failed:\n{(root / f'{name}.log').read_text()[-2000:]}")
    return runs


def _trained(trained: dict[str, Path], tiny_npz: Path, name: str) -> tuple:
    from vp_edge.data import load_dataset
    from vp_edge.family import load_family

    splits = load_dataset(
        tiny_npz, seed=0, val_fraction=0.1, input_shape=load_family("tiny").input_shape
    )
    return trained[name], splits.test.subset(IMAGES)


@pytest.mark.parametrize(
    "name,artefacts",
    [
        ("mp", ["mp0.tflite", "mp1.tflite", "mp2.tflite"]),
        ("cp", ["cp0.tflite", "cp1.tflite"]),
        ("lcp", ["lcp0.tflite", "lcp1.tflite", "lcp_merge.tflite"]),
        ("disco", ["disco_a.vpb", "disco_b.vpb", "disco_merge.tflite"]),
    ],
)
def test_strategy_trains_converts_and_runs_offline(tmp_path, tiny_npz, trained, name, artefacts):
    from vp_edge.strategies import load_strategy, run_offline
    from vp_edge.strategies.figures import strategy_figures

    run, test = _trained(trained, tiny_npz, name)
    for a in artefacts:
        assert (run / "models" / a).exists(), a
        card = json.loads((run / "models" / a).with_suffix(".json").read_text())
        assert card["params"] > 0 and card["macs"] > 0
    s = load_strategy(run)
    outs = run_offline(s, test.x)
    assert all(o.status == "ok" and 0 <= o.label < 10 for o in outs)
    again = run_offline(s, test.x)  # deterministic: the same labels and scores again
    assert all(
        a.label == b.label and np.array_equal(a.scores, b.scores)
        for a, b in zip(outs, again, strict=True)
    )
    dropped = run_offline(s, test.x[:3], drop=(s.parts[-1].name,))
    want = "failed" if name == "mp" else "degraded"
    assert {o.status for o in dropped} == {want}
    assert all(o.missing == (s.parts[-1].name,) for o in dropped)
    row = strategy_figures(run, limit=4)
    assert row["devices"] == len(s.parts) and set(row["drop_one"]) == {p.name for p in s.parts}
    assert row["tensor_bytes_per_inference"]["total"] > 0
    if name == "disco":
        _check_disco_exchange(run, s)
    _check_live(run, s, test, tmp_path / "live")


def _check_live(run: Path, s, test, out: Path) -> None:
    """Emulated boards behind the gateway answer exactly what the offline plan answers, with
    every board up and with the last part's board killed."""
    from experiments.bench.strategies_live import live_check

    n = 6
    res = live_check(run, test.x[:n], test.y[:n], out, kill=s.parts[-1].name)
    assert res["all_up"]["differ"] == 0 and res["all_up"]["answered"] == n
    assert res["killed"]["differ"] == 0
    assert res["killed"]["answered"] == (0 if s.name == "mp" else n)


def _check_disco_exchange(run: Path, s) -> None:
    """Each stage replies exactly the kept channels of the cross kernels it feeds."""
    from boards.staged import read_vpb

    kept = s.doc["kept"]
    for p, other in (("a", "b"), ("b", "a")):
        entries = read_vpb((run / "models" / f"disco_{p}.vpb").read_bytes()).manifest["stages"]
        for layer, e in enumerate(entries[:-1]):
            assert e["reply"] == kept[f"{layer + 1}_{p}{other}"]
            assert 1 <= len(e["reply"]) < e["output"]["shape"][-1]
        for layer, e in enumerate(entries[1:], start=1):
            assert e["received"]["channels"] == len(kept[f"{layer}_{other}{p}"])
