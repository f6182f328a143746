"""What a run directory records about its training, read and written in one place.

``family.json`` (the family trained), ``data.json`` (how the data were loaded, and the class
order fixed by the run) and ``train.json`` (settings, history, status): training writes them,
conversion, evaluation, the gateway and every later tool read them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from converters.rundir import RunDir
from vp_edge.errors import ArtifactError, TrainingError
from vp_edge.family import Family, from_dict


def run_state(run: Path) -> dict:
    path = RunDir(run).train
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def load_run_family(run: Path) -> Family:
    path = RunDir(run).family
    if not path.exists():
        raise TrainingError(
            f"{run} is not a training run (no family.json); run 'vp-edge train' first"
        )
    return from_dict(json.loads(path.read_text()), source=str(path))


def _absolute_source(source: Any) -> Any:
    """A data path as an absolute path, so the run works from any folder."""
    if source is None or str(source).lower() == "fashion-mnist":
        return source
    return str(Path(source).expanduser().resolve())


def save_data_args(run: Path, d: dict) -> None:
    """Record how the data were loaded (the path made absolute); keeps recorded class names."""
    old = _read_json(RunDir(run).data)
    doc = {**d, "source": _absolute_source(d.get("source"))}
    if RunDir(run).train.exists():  # older runs stored the path as given: compare resolved
        before = {**old, "source": _absolute_source(old.get("source"))}
        changed = [
            f"{k} {before[k]!r} -> {doc[k]!r}"
            for k in ("source", "seed", "val_fraction")
            if k in old and k in doc and before[k] != doc[k]
        ]
        if changed:
            raise TrainingError(
                f"{run} was trained on other data ({'; '.join(changed)}); "
                "resume with the same data, or use another --out"
            )
    if "class_names" in old and "class_names" not in doc:
        doc["class_names"] = old["class_names"]
    RunDir(run).data.write_text(json.dumps(doc, indent=2) + "\n")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except ValueError as e:
        raise ArtifactError(f"{path}: not valid JSON ({e}); remove the run or repair it") from None


def load_data_args(run: Path) -> dict:
    """The recorded data arguments; a relative source (older runs) is tried from the run too."""
    path = RunDir(run).data
    if not path.exists():
        raise ArtifactError(f"{run} has no data.json; it was not made by 'vp-edge train'")
    d = _read_json(path)
    src = d.get("source")
    if src and str(src).lower() != "fashion-mnist" and not Path(src).expanduser().is_absolute():
        if not Path(src).exists() and (Path(run) / src).exists():
            d["source"] = str((Path(run) / src).resolve())
    return d


def record_class_names(run: Path, names: tuple[str, ...]) -> None:
    """Fix the run's class order (data.json); a run trained on another order is refused."""
    d = _read_json(RunDir(run).data)
    old = d.get("class_names")
    if old is not None and tuple(old) != tuple(names):
        raise TrainingError(
            f"{run} was trained with classes {old}; the data now give {list(names)}; use "
            "another --out or the same data and class_names"
        )
    d["class_names"] = list(names)
    RunDir(run).data.write_text(json.dumps(d, indent=2) + "\n")


def run_class_names(
    run: Path, family: Family | None = None, numbered: bool = True
) -> tuple[str, ...] | None:
    """The class order of a run: recorded at training, else the family's, else "0".."C-1"
    (None instead of numbers when ``numbered`` is False: the source may then name them)."""
    names = _read_json(RunDir(run).data).get("class_names")
    if names:
        return tuple(str(n) for n in names)
    family = family or load_run_family(run)
    if family.class_names or not numbered:
        return family.class_names or None
    return tuple(str(i) for i in range(family.num_classes))
