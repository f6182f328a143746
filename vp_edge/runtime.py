"""Run int8 .tflite models on LiteRT, one thread, on a chosen kernel set.

The reference kernels (offline evaluation) are what tflite-micro and our C engine agree with;
the default XNNPACK delegate (what Linux boards serve with) rounds differently, so a board's
answers are checked against offline outputs on its own kernels. More threads on a 2-core board
make the builtin kernels far slower. Numpy and LiteRT only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class TfliteRunner:
    """One int8 model on LiteRT; ``run`` maps int8 inputs to int8 outputs.

    ``kernels="ref"`` (default) is what offline evaluation runs. ``"builtin"`` (the optimised
    kernels, still without the XNNPACK delegate) is 10x+ faster and may differ by
    +-1 on rare values: only for models no board runs, such as the baseline.
    ``"xnnpack"`` is LiteRT's default (the XNNPACK delegate), about 20x faster than
    ``"ref"`` on one thread and what linux boards serve with by default; it equals only
    itself, so a board serving with it is compared with offline results made with it too.
    """

    def __init__(self, model: bytes | Path, kernels: str = "ref") -> None:
        from converters.interpreters import litert

        content = Path(model).read_bytes() if isinstance(model, Path) else model
        self._it = litert(content, kernels)
        self.input = self._it.get_input_details()[0]
        self.output = self._it.get_output_details()[0]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.input["shape"][1:])

    def run(self, x: np.ndarray) -> np.ndarray:
        """One int8 input (without batch axis) -> one int8 output vector."""
        self._it.set_tensor(self.input["index"], np.asarray(x, dtype=np.int8)[None])
        self._it.invoke()
        return self._it.get_tensor(self.output["index"])[0].copy()

    def run_batch(self, xs: np.ndarray) -> np.ndarray:
        """Each input in turn (one thread, as a board runs them)."""
        out = np.empty((len(xs), int(self.output["shape"][-1])), dtype=np.int8)
        for i, x in enumerate(xs):
            out[i] = self.run(x)
        return out
