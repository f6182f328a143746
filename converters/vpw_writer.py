"""File side of the .vpw converter: read a .tflite, write a .vpw, report (and optionally verify)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from converters.errors import ConversionError
from converters.vpw import read_vpw, tflite_to_vpw


def pack_file(
    tflite_path: str | Path,
    out_path: str | Path,
    *,
    golden_seed: int | None = None,
    verify: int = 0,
    stream_word_bits: int = 64,
    target: str = "generic",
) -> dict:
    """Write ``out_path`` (.vpw) from ``tflite_path``; return its summary.

    ``golden_seed`` adds a self-test section whose input is drawn from that seed; ``verify`` > 0
    also runs that many random inputs through the engine and LiteRT's reference kernels and adds
    ``verify`` = {values, differing, first_bad_layer} to the summary.
    """
    src = Path(tflite_path)
    try:
        tfl = src.read_bytes()
    except OSError as e:
        raise ConversionError(f"cannot read {src}: {e}") from None
    plain = tflite_to_vpw(tfl, stream_word_bits=stream_word_bits, target=target)
    size = int(np.prod(read_vpw(plain).input_shape))
    golden = None
    if golden_seed is not None:
        golden = np.random.default_rng(golden_seed).integers(-128, 128, size, dtype=np.int8)
    blob = (
        plain
        if golden is None
        else tflite_to_vpw(
            tfl, golden_input=golden, stream_word_bits=stream_word_bits, target=target
        )
    )
    out = Path(out_path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(blob)
    except OSError as e:
        raise ConversionError(f"cannot write {out}: {e}") from None
    summary = read_vpw(blob).summary()
    summary.update(
        source=str(src),
        output=str(out),
        tflite_bytes=len(tfl),
        sha256=hashlib.sha256(blob).hexdigest(),
    )
    if verify > 0:
        from converters.verify import compare_with_reference

        xs = np.random.default_rng(0).integers(-128, 128, (verify, size), dtype=np.int8)
        summary["verify"] = compare_with_reference(tfl, xs, vpw=blob)
    return summary
