"""Model runners: one artefact's bytes in, ``run(int8 input without batch axis) -> int8 vector``.

``RUNNERS`` is a plain dict so other back ends (e.g. "pynq") add themselves with one line::

    RUNNERS["pynq"] = PynqRunner

Each runner says which artefact it eats (``artefact``: ".tflite" or ".vpw").
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from vp_edge.errors import BoardError


class Runner:
    """Base class: subclasses set ``input_shape``/``output_size`` and implement ``run``."""

    name: ClassVar[str] = "runner"
    artefact: ClassVar[str] = ".tflite"
    input_shape: tuple[int, ...]
    output_size: int

    def __init__(self, model: bytes, **options: object) -> None:
        self.model = bytes(model)

    @property
    def input_bytes(self) -> int:
        return int(np.prod(self.input_shape))

    def run(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class LiteRtRunner(Runner):
    """LiteRT on one thread (vp_edge.runtime): ``kernels`` ref (default, what offline evaluation
    compares with), builtin, or xnnpack (LiteRT's default delegate, ~20x faster than ref)."""

    name = "litert"

    def __init__(self, model: bytes, kernels: str = "ref", **options: object) -> None:
        super().__init__(model)
        from vp_edge.errors import ArtifactError
        from vp_edge.runtime import TfliteRunner

        try:
            self._r = TfliteRunner(self.model, kernels=str(kernels))
        except ArtifactError as e:
            raise BoardError(str(e)) from None
        self.kernels = str(kernels)
        self.input_shape = self._r.input_shape
        self.output_size = int(np.prod(self._r.output["shape"][1:]))

    def run(self, x: np.ndarray) -> np.ndarray:
        return self._r.run(np.asarray(x, np.int8).reshape(self.input_shape)).reshape(-1)


class TflmRunner(Runner):
    """tflite-micro, the microcontroller's own kernels, with a fixed arena (``arena_bytes``)."""

    name = "tflm"

    def __init__(self, model: bytes, arena_bytes: int | None = None, **options: object) -> None:
        super().__init__(model)
        from tflite_micro import runtime

        arena = int(arena_bytes or max(10 * len(self.model), 1 << 20))
        try:
            self._it = runtime.Interpreter.from_bytes(self.model, arena_size=arena)
        except (RuntimeError, ValueError) as e:
            raise BoardError(
                f"tflite-micro cannot run the model in a {arena:,}-byte arena: {e}"
            ) from None
        details = self._it.get_input_details(0)
        self.input_shape = tuple(int(s) for s in details["shape"][1:])
        self.output_size = int(np.prod(self._it.get_output_details(0)["shape"][1:]))

    def run(self, x: np.ndarray) -> np.ndarray:
        self._it.set_input(np.asarray(x, np.int8).reshape((1, *self.input_shape)), 0)
        self._it.invoke()
        return np.asarray(self._it.get_output(0)).reshape(-1).astype(np.int8)


class EngineRunner(Runner):
    """The portable C engine on a packed .vpw (firmware_bridge.engine), as MCU firmware runs it."""

    name = "engine"
    artefact = ".vpw"

    def __init__(self, model: bytes, **options: object) -> None:
        super().__init__(model)
        from firmware_bridge.engine import Engine, EngineError

        try:
            self._e = Engine(self.model)
        except EngineError as e:
            raise BoardError(f"the C engine rejects the model: {e}") from None
        info = self._e.info
        self.input_shape = tuple(int(s) for s in info["input_shape"][1:])
        self.output_size = int(info["output_size"])

    def run(self, x: np.ndarray) -> np.ndarray:
        return self._e.run(np.asarray(x, np.int8).reshape(-1)).reshape(-1)


RUNNERS: dict[str, type[Runner]] = {
    "litert": LiteRtRunner,
    "tflm": TflmRunner,
    "engine": EngineRunner,
}


def make_runner(name: str, model: bytes, **options: object) -> Runner:
    """Build the named runner, or an error listing the known ones."""
    try:
        cls = RUNNERS[name]
    except KeyError:
        raise BoardError(f"unknown model runner {name!r}; known: {', '.join(RUNNERS)}") from None
    return cls(model, **options)


# Back ends that live in their own modules register here, after RUNNERS exists: boards.pynq
# imports this module (and boards.registry) for its base classes, so the import comes last.
# boards/__init__.py loads boards.registry first, which keeps the cycle acyclic in practice.
from boards.pynq import PynqRunner  # noqa: E402

RUNNERS["pynq"] = PynqRunner
