"""Where the Cortex-M4 firmware spends an inference's instructions, function by function.

    python -m experiments.kernel_profile MODEL.tflite [MODEL ...] [--json]

Each model is packed in the Arm layout (as ``vp-edge benchmark`` does), flashed into the
mps2-an386 firmware and run once in QEMU with the engine's blocks logged
(firmware_bridge.firmware.cycles); every executed block is charged to the function it starts in.
The total is the traced engine code only (the firmware's protocol and start-up are not traced).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np


def profile(model: Path, timeout: float = 600.0) -> dict:
    """Instructions per engine function of one inference of ``model`` (random int8 input)."""
    from boards.emulators import firmware_elf
    from boards.runners import make_runner
    from converters.vpw import read_vpw
    from firmware_bridge.firmware.cycles import TraceReader, by_function
    from vp_edge.benchmark import _arm_vpw, qemu_infer

    data = model.read_bytes()
    shape = make_runner("tflm", data).input_shape
    x = np.random.default_rng(0).integers(-128, 128, shape, dtype=np.int8)
    vpw = _arm_vpw("tflite", data, "cortex-m4", x)
    elf = firmware_elf(2, 1000, "mps2-an386")
    with tempfile.TemporaryDirectory(prefix="vp-profile-") as tmp:
        reader = TraceReader(elf, Path(tmp))
        qemu_infer(vpw, x, "mps2-an386", 1, timeout, elf=elf, extra=reader.args)
        t = reader.wait(timeout)
    macs = read_vpw(vpw).macs
    funcs = by_function(elf, t.per_block)
    return {"model": model.name, "macs": macs, "instructions": t.instructions,
            "functions": dict(funcs.most_common())}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--json", action="store_true", help="one JSON object per model")
    args = ap.parse_args(argv)
    for m in args.models:
        r = profile(m)
        if args.json:
            print(json.dumps(r))
            continue
        total = r["instructions"]
        print(f"{r['model']}: {total:,} instructions traced, {r['macs']:,} MACs, "
              f"{total / max(r['macs'], 1):.2f} per MAC")  # fmt: skip
        for name, n in r["functions"].items():
            print(
                f"  {name:28s} {n:>12,} {100 * n / total:5.1f} %  {n / max(r['macs'], 1):.3f}/MAC"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
