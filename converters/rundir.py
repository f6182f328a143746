"""The run directory: one class owns every path of a run, so no module spells them out.

```
RUN/family.json  data.json  train.json     what was trained, on what, and how it went
RUN/checkpoints/NAME.keras                 last epoch (resume)
RUN/weights/NAME.weights.h5                best validation weights
RUN/models/NAME.tflite  NAME.json  NAME.vpw   int8 model, its card, its packed form
RUN/outputs/NAME[TAG].npz                  cached int8 test outputs
RUN/report/...                             evaluate.json, demo.json, plots
RUN/strategy.json                          the strategy, its parts and gateway models
RUN/models/PART.tflite | PART.vpb          a strategy's parts (a .vpb: multi-stage bundle)
```

It lives in the converters layer because boards (emulation) and converters read the same
models and cards the application writes.
"""

from __future__ import annotations

import os
from pathlib import Path


class RunDir:
    """Paths of one run; ``RunDir(path)`` is cheap and creates nothing until ``make``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"RunDir({str(self.root)!r})"

    @property
    def family(self) -> Path:
        return self.root / "family.json"

    @property
    def data(self) -> Path:
        return self.root / "data.json"

    @property
    def train(self) -> Path:
        return self.root / "train.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def weights_dir(self) -> Path:
        return self.root / "weights"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def outputs_dir(self) -> Path:
        return self.root / "outputs"

    @property
    def report_dir(self) -> Path:
        return self.root / "report"

    @property
    def strategy(self) -> Path:
        """What ``vp_edge.strategies.load_strategy`` reads: parts, replies, gateway models."""
        return self.root / "strategy.json"

    def bundle(self, name: str) -> Path:
        """A multi-stage part (boards.staged .vpb)."""
        return self.model(name, ".vpb")

    def checkpoint(self, name: str) -> Path:
        return self.checkpoints / f"{name}.keras"

    def weights(self, name: str) -> Path:
        return self.weights_dir / f"{name}.weights.h5"

    def model(self, name: str, suffix: str = ".tflite") -> Path:
        """A model artefact: ``.tflite`` (default) or ``.vpw``."""
        return self.models / f"{name}{suffix}"

    def card(self, name: str) -> Path:
        return self.models / f"{name}.json"

    def vpw(self, name: str) -> Path:
        return self.model(name, ".vpw")

    def outputs(self, name: str, tag: str = "") -> Path:
        return self.outputs_dir / f"{name}{tag}.npz"

    def report(self, name: str) -> Path:
        return self.report_dir / name

    def make(self, *dirs: Path) -> None:
        """Create the given folders of this run (all of them when none is given)."""
        for d in dirs or (
            self.checkpoints,
            self.weights_dir,
            self.models,
            self.outputs_dir,
            self.report_dir,
        ):
            d.mkdir(parents=True, exist_ok=True)
