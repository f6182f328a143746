"""One pack as ``vp-edge pack`` runs it, callable from a script the same way: the model checked
by its bytes, the .vpw written beside it by default, and the exit code that ``--verify`` sets.

Exit codes: 2 a file that is not a full-int8 .tflite (``UsageError``), 4 the engine differs
from LiteRT's reference kernels on some value (``pack_exit_code``).
"""

from __future__ import annotations

from pathlib import Path


def pack_model(
    model: str,
    output: str | None = None,
    golden_seed: int | None = 0,
    verify: int = 0,
    stream_word_bits: int = 64,
    target: str = "generic",
) -> dict:
    """Pack ``model`` into ``output`` (default: MODEL with a .vpw suffix); its summary. A PNG
    given by mistake is refused in one line before the converter sees it."""
    from converters.vpw_writer import pack_file
    from vp_edge.checks import read_model

    read_model(model, "MODEL", kinds=("tflite",))
    out = output or str(Path(model).with_suffix(".vpw"))
    return pack_file(
        model,
        out,
        golden_seed=golden_seed,
        verify=verify,
        stream_word_bits=stream_word_bits,
        target=target,
    )


def pack_exit_code(summary: dict) -> int:
    """4 when ``--verify`` found values that differ from LiteRT BUILTIN_REF, else 0."""
    return 4 if summary.get("verify", {}).get("differing") else 0
