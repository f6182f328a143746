"""The tiny family distilled from its own baseline: stages, resume, the recipe on record.

One epoch on 64 images in two steps (seconds of training): what is checked is the plumbing
(stages, checkpoints, resume, the recorded recipe), not accuracy, so the smallest budget that
still takes more than one step per epoch proves the same.
"""

from __future__ import annotations

import copy
import json
import shutil

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.tf, pytest.mark.slow]

from vp_edge.data import FASHION_MNIST_DIR  # noqa: E402


@pytest.fixture(scope="module")
def splits():
    if not (FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip("dataset-fashion-mnist is not installed (make test installs it)")
    from vp_edge.data import load_dataset

    return load_dataset(None, seed=0)


def _config(**kw):
    from vp_edge.train import TrainConfig

    base = dict(epochs=1, batch_size=32, train_limit=64, val_limit=32, patience=5, eager=True)
    return TrainConfig(**{**base, **kw})


def _teacher_config():
    return _config(teacher="baseline", kd_schedule="ramp", ncl_weight=0.5, member_draws=True)


@pytest.fixture(scope="module")
def teacher_first(tmp_path_factory, splits):
    """A run after one training with its own baseline as teacher (the baseline trained first,
    then the family distilled from it). Shared: the first test resumes a copy of it, the
    second takes its baseline as another run's teacher, so the stage is trained once."""
    from vp_edge.family import PRESETS
    from vp_edge.train import train

    run = tmp_path_factory.mktemp("teacher-first") / "run"
    state = train(PRESETS["tiny"], splits, run, _teacher_config(), verbose=0)
    return run, state


def test_teacher_stage_first_then_resume_and_record(tmp_path, splits, teacher_first):
    from vp_edge.family import PRESETS
    from vp_edge.train import load_trained, train

    run, fam, cfg = tmp_path / "run", PRESETS["tiny"], _teacher_config()
    shutil.copytree(teacher_first[0], run)  # copy2 keeps the files' times
    state = copy.deepcopy(teacher_first[1])
    assert state["recipe"] == "joint+ens(1)+kd(0.5,T=2,ramp)+ncl(0.5)+draws"
    assert state["config"]["teacher"] == "baseline"
    assert state["config"]["eager"] is True  # how it ran is on record too
    assert list(state["models"]) == ["baseline", "joint"]  # the teacher is trained first
    teacher_file = run / "weights" / "baseline.weights.h5"
    stamp = teacher_file.stat().st_mtime

    # interrupted after the teacher stage: the rerun keeps the teacher, trains the family
    state["models"].pop("joint")
    (run / "train.json").write_text(json.dumps(state))
    (run / "checkpoints" / "joint.keras").unlink()
    state = train(fam, splits, run, cfg, verbose=0)
    assert teacher_file.stat().st_mtime == stamp
    assert state["models"]["joint"]["epochs_done"] == 1

    # a two-epoch run stopped after its first epoch resumes both stages from their checkpoints
    # (recipe graph reloaded); the recorded budget says 2, as the interrupted run's would
    state["config"]["epochs"] = 2
    (run / "train.json").write_text(json.dumps(state))
    state = train(fam, splits, run, _config(**{**cfg.__dict__, "epochs": 2}), verbose=0)
    assert [m["epochs_done"] for m in state["models"].values()] == [2, 2]
    # what convert loads is the plain family: one output per variant (and the ensemble term's,
    # on by default), no teacher inside
    joint = load_trained(run, "joint")
    assert sorted(joint.output_names) == ["ensemble", "t16", "t24"]
    probs = joint.predict(splits.test.x[:8].astype(np.float32) / 255.0, verbose=0)
    assert np.allclose(probs["t16"].sum(axis=1), 1.0, atol=1e-5)


def test_teacher_from_another_run_becomes_the_baseline(tmp_path, splits, teacher_first):
    from vp_edge.errors import TrainingError
    from vp_edge.family import PRESETS
    from vp_edge.train import run_state, train

    fam = PRESETS["tiny"]
    src, run = teacher_first[0], tmp_path / "student"
    try:
        state = train(fam, splits, run, _config(teacher=str(src), kd_weight=0.7), verbose=0)
    except TrainingError as e:  # 64 images for one epoch may leave it at chance: an error now,
        assert "near chance" in str(e)  # with the state saved; the recipe is what is checked
        state = run_state(run)
    teacher = src / "weights" / "baseline.weights.h5"
    assert (run / "weights" / "baseline.weights.h5").read_bytes() == teacher.read_bytes()
    src_state = json.loads((src / "train.json").read_text())["models"]["baseline"]
    assert state["models"]["baseline"] == src_state
    recorded = json.loads((run / "teacher.json").read_text())
    assert recorded["run"] == str(src) and len(recorded["sha256"]) == 64
    assert state["recipe"] == "joint+ens(1)+kd(0.7,T=2,constant)"
