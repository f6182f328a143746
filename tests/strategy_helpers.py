"""Train and convert one strategy on a tiny budget; run as a script so that two strategies can
train at once in their own processes (Keras spends most of a tiny run tracing graphs, on one
core), as ``python tests/strategy_helpers.py NAME OPTIONS_JSON RUN NPZ``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def train_and_convert(name: str, opts: dict, run: Path, npz: Path) -> None:
    from vp_edge.data import load_dataset
    from vp_edge.family import load_family
    from vp_edge.strategies.build import convert_strategy, strategy_options, train_strategy
    from vp_edge.train import TrainConfig, save_data_args

    family = load_family("tiny")
    run.mkdir(parents=True)
    save_data_args(run, {"source": str(npz), "seed": 0, "val_fraction": 0.1})
    splits = load_dataset(npz, seed=0, val_fraction=0.1, input_shape=family.input_shape)
    config = TrainConfig(epochs=1, batch_size=32, train_limit=400, val_limit=50, eager=True)
    train_strategy(name, family, splits, run, config, strategy_options(name, family, **opts), 0)
    convert_strategy(run, calibration=32, measure=False, show=False)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    train_and_convert(sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
