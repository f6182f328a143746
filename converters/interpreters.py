"""The one place interpreters are built, for every runtime that runs a .tflite.

LiteRT (``litert``): the reference kernels (``kernels="ref"``) are what offline evaluation runs
and what tflite-micro and the C engine agree with; ``"builtin"`` are LiteRT's optimised kernels
without the XNNPACK delegate; ``"xnnpack"`` is LiteRT's default (XNNPACK, which rounds
differently from the reference kernels) and what Linux boards serve with by default. Always one
thread (two threads on two cores made the builtin kernels 20x slower). tflite-micro
(``tflm``): the microcontroller's own kernels with a fixed arena; ``default_arena`` is the
generous arena used wherever none was measured. Both runtimes are
imported only when an interpreter is built.
"""

from __future__ import annotations

from typing import Any

from converters.errors import ArtifactError, ConversionError
from converters.quiet import native_quiet

LITERT_KERNELS = ("ref", "builtin", "xnnpack")
#: what a Linux board serves with unless told otherwise (offline checks then run the same)
BOARD_KERNELS = "xnnpack"


def default_arena(model_bytes: int) -> int:
    """A tflite-micro arena large enough for any model we make: 10x the file, at least 1 MiB."""
    return max(10 * int(model_bytes), 1 << 20)


def litert(model: bytes, kernels: str = "ref", preserve: bool = False) -> Any:
    """A LiteRT interpreter with tensors allocated; ``ArtifactError`` if it cannot load.

    ``preserve`` keeps every intermediate tensor readable (layer-by-layer comparisons).
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolvers = {
        "ref": OpResolverType.BUILTIN_REF,
        "builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        "xnnpack": OpResolverType.AUTO,  # LiteRT's default: builtin kernels + XNNPACK delegate
    }
    if kernels not in resolvers:
        raise ArtifactError(f"unknown LiteRT kernels {kernels!r}; known: {', '.join(resolvers)}")
    try:
        with native_quiet():  # XNNPACK's "INFO: Created TensorFlow Lite XNNPACK delegate" (C++)
            it = Interpreter(
                model_content=bytes(model),
                experimental_op_resolver_type=resolvers[kernels],
                experimental_preserve_all_tensors=preserve,
                num_threads=1,
            )
            it.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise ArtifactError(f"LiteRT cannot load the model: {e}") from None
    return it


def tflm(model: bytes, arena: int | None = None) -> Any:
    """A tflite-micro interpreter with ``arena`` bytes (``default_arena`` if None).

    A too-small arena raises (``RuntimeError``/``ValueError``, left to the caller, who knows
    what the arena means there); a far-too-small one can crash: probe in a child process.
    """
    from tflite_micro import runtime

    size = default_arena(len(model)) if arena is None else int(arena)
    return runtime.Interpreter.from_bytes(bytes(model), arena_size=size)


def reference_interpreter(tflite_bytes: bytes, preserve: bool = False) -> Any:
    """LiteRT with the reference kernels and one thread (what every board is compared with)."""
    try:
        return litert(tflite_bytes, "ref", preserve=preserve)
    except ImportError as e:  # pragma: no cover - depends on the host
        raise ConversionError(f"verification needs ai-edge-litert: {e}") from e
