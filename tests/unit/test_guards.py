"""Guards around a run and a flash: class order, resumed settings, chance accuracy, data path,
and the local check of an artefact before it is sent to a board."""

from __future__ import annotations

from pathlib import Path

import pytest

from vp_edge.errors import TrainingError
from vp_edge.family import PRESETS
from vp_edge.train import (
    TrainConfig,
    _check_resume,
    chance_warnings,
    load_data_args,
    record_class_names,
    run_class_names,
    save_data_args,
)

TINY_VPW = Path(__file__).resolve().parents[1] / "pynq" / "data" / "tiny.vpw"


def test_resume_with_other_settings_is_refused_naming_them(tmp_path: Path) -> None:
    recorded = {**TrainConfig().__dict__}
    _check_resume(tmp_path, recorded, TrainConfig())  # same settings: resumes
    _check_resume(tmp_path, recorded, TrainConfig(patience=9))  # not a training setting
    with pytest.raises(TrainingError, match=r"batch_size 64 -> 32; learning_rate 0.002 -> 0.005"):
        _check_resume(tmp_path, recorded, TrainConfig(learning_rate=5e-3, batch_size=32))


def test_chance_accuracy_names_its_likely_cause() -> None:
    def state(val: float, fit: float) -> dict:
        return {
            "models": {
                "joint": {
                    "best_epoch": 0,
                    "history": [{"val_a_accuracy": val, "a_accuracy": fit, "val_loss": 1.0}],
                }
            }
        }

    (w,) = chance_warnings(state(0.25, 0.26), 4)
    assert "near chance (25.0% for 4 classes)" in w and "has not learned the training" in w
    assert "--lr" in w and "--batch-size" in w
    (w,) = chance_warnings(state(0.25, 0.95), 4)
    assert "fits the training images (95.0%) but not the validation images" in w
    assert chance_warnings(state(0.9, 0.95), 4) == []
    assert TrainConfig().ensemble_weight == 1.0  # as the README's results


def test_data_path_is_absolute_and_class_order_recorded(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imgs").mkdir()
    run = tmp_path / "run"
    run.mkdir()
    save_data_args(run, {"source": "imgs", "seed": 0, "val_fraction": 0.1})
    assert load_data_args(run)["source"] == str(tmp_path / "imgs")
    save_data_args(run, {"source": "fashion-mnist", "seed": 0, "val_fraction": 0.1})
    assert load_data_args(run)["source"] == "fashion-mnist"
    record_class_names(run, ("b", "a"))
    save_data_args(run, {"source": None, "seed": 0, "val_fraction": 0.1})  # keeps the order
    assert run_class_names(run) == ("b", "a")
    with pytest.raises(TrainingError, match=r"trained with classes \['b', 'a'\]"):
        record_class_names(run, ("a", "b"))
    (run / "train.json").write_text("{}")  # a trained run: its data may not change
    with pytest.raises(TrainingError, match=r"other data \(source None -> '/"):
        save_data_args(run, {"source": "imgs", "seed": 0, "val_fraction": 0.1})


def test_run_class_names_fall_back_to_family_then_numbers(tmp_path: Path) -> None:
    fam = PRESETS["tiny"]
    assert run_class_names(tmp_path, fam) == fam.class_names
    bare = type(fam)(**{**fam.__dict__, "class_names": ()})
    assert run_class_names(tmp_path, bare) == tuple(str(i) for i in range(10))
    assert run_class_names(tmp_path, bare, numbered=False) is None


def test_flash_checks_the_artefact_before_sending(tmp_path: Path) -> None:
    from vp_edge.deployment import BoardSpec
    from vp_edge.flashing import FlashTarget, FlashUsageError, check_artifact, session_url

    blob = TINY_VPW.read_bytes()
    assert check_artifact(blob, "tiny.vpw") == []
    bad = bytearray(blob)
    bad[-1] ^= 1
    with pytest.raises(FlashUsageError, match="SHA-256"):
        check_artifact(bytes(bad), "bad.vpw")
    with pytest.raises(FlashUsageError, match="neither a .vpw"):
        check_artifact(b"\x89PNG\r\n\x1a\n" + bytes(64), "photo.png")
    linux = BoardSpec(1, "pi-1", "linux", "udp://127.0.0.1:5601", "t16", "raspberry-pi-4")
    target = FlashTarget("udp://127.0.0.1:5601", 1, None, None, spec=linux)
    with pytest.raises(FlashUsageError, match="runs a full-int8 .tflite"):
        check_artifact(blob, "tiny.vpw", target)
    with pytest.raises(FlashUsageError, match="--deployment FILE --board NAME"):
        session_url("pty://m4-1")
    assert session_url("serial:///dev/ttyUSB0?baud=9600") == ("/dev/ttyUSB0", 9600)


def test_pack_adds_the_self_test_by_default(tmp_path: Path) -> None:
    import argparse

    from vp_edge.commands import pack

    p = argparse.ArgumentParser()
    pack.register(p.add_subparsers())
    args = p.parse_args(["pack", "m.tflite"])
    assert args.golden_from_random_seed == 0 and not args.no_golden
    assert p.parse_args(["pack", "m.tflite", "--no-golden"]).no_golden


def test_cards_of_another_class_order_are_refused(tmp_path: Path) -> None:
    import json

    from vp_edge.errors import ArtifactError
    from vp_edge.evaluate import load_cards
    from vp_edge.family import save_family

    fam = PRESETS["tiny"]
    save_family(fam, tmp_path / "family.json")
    record_class_names(tmp_path, fam.class_names)
    (tmp_path / "models").mkdir()
    for v in fam.variants:
        card = {"name": v.name, "class_names": list(fam.class_names)}
        (tmp_path / "models" / f"{v.name}.json").write_text(json.dumps(card))
    assert set(load_cards(tmp_path, fam)) == {"t16", "t24"}
    swapped = list(fam.class_names)
    swapped[8], swapped[9] = swapped[9], swapped[8]
    card = {"name": "t24", "class_names": swapped}
    (tmp_path / "models" / "t24.json").write_text(json.dumps(card))
    with pytest.raises(
        ArtifactError,
        match=r"t24.json: its classes \[.*'Ankle boot', 'Bag'\] "
        r"differ from the run's \[.*'Bag', 'Ankle boot'\]",
    ):
        load_cards(tmp_path, fam)
