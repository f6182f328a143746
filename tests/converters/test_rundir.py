"""The run directory's layout, owned by one class."""

from __future__ import annotations

from pathlib import Path

from converters.rundir import RunDir


def test_every_path_of_a_run(tmp_path: Path) -> None:
    r = RunDir(tmp_path)
    assert r.family == tmp_path / "family.json" and r.train == tmp_path / "train.json"
    assert r.model("a035_r24") == tmp_path / "models" / "a035_r24.tflite"
    assert r.vpw("a035_r24") == tmp_path / "models" / "a035_r24.vpw"
    assert r.card("baseline") == tmp_path / "models" / "baseline.json"
    assert r.weights("t16") == tmp_path / "weights" / "t16.weights.h5"
    assert r.checkpoint("t16") == tmp_path / "checkpoints" / "t16.keras"
    assert r.outputs("t16", "-ab12") == tmp_path / "outputs" / "t16-ab12.npz"
    assert r.report("evaluate.json") == tmp_path / "report" / "evaluate.json"
    r.make()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoints",
        "models",
        "outputs",
        "report",
        "weights",
    ]
