"""Model runners: one artefact's bytes in, ``run(int8 input without batch axis) -> int8 vector``.

``RUNNERS`` is a registry: a back end in its own module is one ``"module:Class"`` entry,
imported on first use (``"pynq": "boards.pynq:PynqRunner"``).

Each runner says which artefact it eats (``artefact``: ".tflite" or ".vpw"). A model file that
is a zip (``BUNDLE_MAGIC``: a ".vpb" staged bundle) is served by the ``staged`` runner
(``boards.staged:StagedRunner``) whatever runner the board kind names, except the C engine.

Stages: every runner has ``stages`` (1 unless it is a staged bundle), ``run_stage(key, stage, x)``
and ``stage_input_bytes(stage)``; the board server calls ``run_stage(request_id, 0, x)`` for INFER
and ``run_stage(request_id, s, x)`` for INFER_STAGE s.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from boards.errors import BoardError
from boards.registry import Registry


class Runner:
    """Base class: subclasses set ``input_shape``/``output_size`` and implement ``run``."""

    name: ClassVar[str] = "runner"
    artefact: ClassVar[str] = ".tflite"
    input_shape: tuple[int, ...]
    output_size: int

    def __init__(self, model: bytes, **options: object) -> None:
        self.model = bytes(model)

    @property
    def stages(self) -> int:
        """Stages a request passes through (a staged bundle has several)."""
        return 1

    @property
    def input_bytes(self) -> int:
        return int(np.prod(self.input_shape))

    def run(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def stage_input_bytes(self, stage: int) -> int:
        """Input bytes of ``stage``; a single-stage runner has stage 0 only."""
        self._check_stage(stage)
        return self.input_bytes

    def run_stage(self, key: int, stage: int, x: np.ndarray) -> np.ndarray:
        """Run ``stage`` on the int8 vector ``x`` for request ``key`` (stateful runners keep
        per-key state between stages); a single-stage runner is ``run``."""
        self._check_stage(stage)
        return np.asarray(self.run(x), np.int8).reshape(-1)

    def _check_stage(self, stage: int) -> None:
        if not 0 <= stage < self.stages:
            raise BoardError(f"{self.name} runner has stages 0..{self.stages - 1}, not {stage}")


class LiteRtRunner(Runner):
    """LiteRT on one thread (converters.interpreters): ``kernels`` xnnpack (default: LiteRT's
    default delegate, ~20x faster than ref), builtin, or ref (what offline evaluation runs)."""

    name = "litert"

    def __init__(self, model: bytes, kernels: str | None = None, **options: object) -> None:
        super().__init__(model)
        from converters.interpreters import BOARD_KERNELS, LITERT_KERNELS, litert

        self.kernels = str(kernels or BOARD_KERNELS)
        if self.kernels not in LITERT_KERNELS:
            raise BoardError(
                f"unknown LiteRT kernels {self.kernels!r}; known: {', '.join(LITERT_KERNELS)}"
            )
        self._it = litert(self.model, self.kernels)
        self._in = self._it.get_input_details()[0]
        self._out = self._it.get_output_details()[0]
        self.input_shape = tuple(int(s) for s in self._in["shape"][1:])
        self.output_size = int(np.prod(self._out["shape"][1:]))

    def run(self, x: np.ndarray) -> np.ndarray:
        self._it.set_tensor(self._in["index"], np.asarray(x, np.int8).reshape(self._in["shape"]))
        self._it.invoke()
        return self._it.get_tensor(self._out["index"]).reshape(-1).copy()


class TflmRunner(Runner):
    """tflite-micro, the microcontroller's own kernels, with a fixed arena (``arena_bytes``)."""

    name = "tflm"

    def __init__(self, model: bytes, arena_bytes: int | None = None, **options: object) -> None:
        super().__init__(model)
        from converters.interpreters import default_arena, tflm

        arena = int(arena_bytes or default_arena(len(self.model)))
        try:
            self._it = tflm(self.model, arena)
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
        from converters.errors import ConversionError
        from converters.vpw_format import read_vpw
        from firmware_bridge.engine import Engine, EngineError

        try:
            read_vpw(self.model)  # magic, sizes and the payload's SHA-256, as flash checks
        except ConversionError as e:
            raise BoardError(f"the .vpw is refused: {e}") from None
        try:
            self._e = Engine(self.model)
        except EngineError as e:
            raise BoardError(f"the C engine rejects the model: {e}") from None
        info = self._e.info
        self.input_shape = tuple(int(s) for s in info["input_shape"][1:])
        self.output_size = int(info["output_size"])

    def run(self, x: np.ndarray) -> np.ndarray:
        return self._e.run(np.asarray(x, np.int8).reshape(-1)).reshape(-1)


RUNNERS: Registry = Registry(
    {
        "litert": LiteRtRunner,
        "tflm": TflmRunner,
        "engine": EngineRunner,
        "pynq": "boards.pynq:PynqRunner",  # imported when a pynq board is built
        "staged": "boards.staged:StagedRunner",  # a .vpb bundle (multi-stage part)
    }
)

BUNDLE_MAGIC = b"PK\x03\x04"  # a .vpb staged bundle is a zip file


def is_bundle(model: bytes) -> bool:
    """Whether ``model`` is a staged bundle (.vpb), served by the ``staged`` runner."""
    return bytes(model[:4]) == BUNDLE_MAGIC


def runner_for(name: str, model: bytes) -> str:
    """The runner that serves ``model`` on a board whose kind names runner ``name``."""
    if not is_bundle(model):
        return name
    if name == "engine":
        raise BoardError(
            "the C engine runs one packed .vpw, not a staged .vpb bundle; serve "
            "the bundle on a linux, mcu (emulated) or pynq board"
        )
    return "staged"


def make_runner(name: str, model: bytes, **options: object) -> Runner:
    """Build the named runner (``staged`` for a .vpb bundle), or an error listing the known."""
    name = runner_for(name, model)
    try:
        cls = RUNNERS[name]
    except KeyError:
        raise BoardError(f"unknown model runner {name!r}; known: {', '.join(RUNNERS)}") from None
    return cls(model, **options)
