"""What TensorFlow's op determinism costs in training time: one family step, off and on.

    python -m experiments.determinism_cost --family fashion --images 2000 --repeats 3

Each measurement is ``vp-edge train``'s own code path (``vp_edge.train.train``: one epoch of
the joint family, no baseline, BatchNormalization re-estimation and validation included) in a
fresh process, because op determinism is process-wide; the settings alternate off, on, off, ...
so a change of machine load hits both. Reported per setting: the median wall time and the
median CPU time of the process (CPU time is the steadier figure on a shared machine), and the
1-minute load average at each start.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one(family_name: str, images: int, deterministic: bool) -> dict:
    """Train one epoch of ``family_name`` on ``images`` Fashion-MNIST images; its times."""
    import tensorflow as tf

    from vp_edge.data import load_dataset
    from vp_edge.errors import TrainingError
    from vp_edge.family import load_family
    from vp_edge.train import TrainConfig, train

    if deterministic:
        tf.config.experimental.enable_op_determinism()
    family = load_family(family_name)
    splits = load_dataset(
        "fashion-mnist", input_shape=family.input_shape, class_names=family.class_names
    )
    config = TrainConfig(epochs=1, train_limit=images, baseline=False, val_limit=500)
    load = os.getloadavg()[0]
    wall, cpu = time.monotonic(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="vp-determinism-") as run:
        try:
            train(family, splits, Path(run), config, verbose=0)
        except TrainingError:  # a chance-level epoch still took its time
            pass
    return {
        "deterministic": deterministic,
        "wall_s": round(time.monotonic() - wall, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "loadavg_1min": round(load, 2),
    }


def measure(family_name: str, images: int, repeats: int) -> dict:
    """``repeats`` runs of each setting, alternating, each in its own process."""
    rows = []
    for _ in range(repeats):
        for det in (False, True):
            argv = [sys.executable, "-m", "experiments.determinism_cost", "--one"]
            argv += ["--family", family_name, "--images", str(images)]
            argv += ["--deterministic"] if det else []
            r = subprocess.run(argv, capture_output=True, text=True, check=True)
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
            print(rows[-1], file=sys.stderr)
    summary = {}
    for det, name in ((False, "off"), (True, "on")):
        mine = [r for r in rows if r["deterministic"] == det]
        summary[name] = {k: statistics.median(r[k] for r in mine) for k in ("wall_s", "cpu_s")}
    summary["cpu_ratio_on_off"] = round(summary["on"]["cpu_s"] / summary["off"]["cpu_s"], 3)
    summary["wall_ratio_on_off"] = round(summary["on"]["wall_s"] / summary["off"]["wall_s"], 3)
    return {"family": family_name, "images": images, "runs": rows, "median": summary}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", default="fashion", help="family preset (default: fashion)")
    p.add_argument("--images", type=int, default=2000, help="training images (default 2000)")
    p.add_argument("--repeats", type=int, default=3, help="runs per setting (default 3)")
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--deterministic", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.family, args.images, args.deterministic)))
        return 0
    print(json.dumps(measure(args.family, args.images, args.repeats), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
