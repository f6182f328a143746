"""Section 2, microcontroller: instruction counts from the Cortex-M4 firmware in QEMU.

Each variant's .vpw is flashed (verified) into the firmware running on QEMU mps2-an386 with
``-icount shift=0`` (1 instruction = 1 ns of virtual time), and one INFER of the fixed input is
timed by the firmware itself: RESULT.compute_us x 1000 = instructions (measured, deterministic,
+-1000). Modelled MCU time = instructions x CPI / clock of the board profile (CPI = 1 assumed).
A model whose .vpw does not fit the firmware's slot gets instructions extrapolated from the
variants' instructions per MAC (modelled, and said so).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

from experiments.bench.comm import fixed_input
from experiments.bench.context import BenchContext
from experiments.bench.figures import fig
from vp_edge.train import BASELINE

LOG = logging.getLogger(__name__)
KEY = b"vp-edge bench qemu key!"
CPI = 1.0


def qemu_available() -> str | None:
    """None when QEMU and the ARM toolchain are there, else why not."""
    from firmware_bridge.qemu import missing_tools

    missing = missing_tools("qemu")
    return f"missing tools: {', '.join(missing)}" if missing else None


def golden_vpw(ctx: BenchContext, name: str) -> bytes:
    """The packed model with a golden self-test (the firmware refuses to commit without one)."""
    from converters.vpw import tflite_to_vpw

    x = fixed_input(ctx, name)
    return tflite_to_vpw(ctx.model_path(name).read_bytes(), golden_input=x.reshape(-1))


def _count(vpw: bytes, x: np.ndarray, workdir: Path, timeout: float) -> int:
    from firmware_bridge.flash import flash
    from firmware_bridge.protocol import Result
    from firmware_bridge.qemu import start_qemu
    from firmware_bridge.session import BoardSession

    epoch = workdir / "gateway.epoch"
    with start_qemu(workdir / "flash.bin", board_id=1, key=KEY) as board:
        flash(board.url, vpw, board_id=1, key=KEY, epoch_file=epoch, timeout=3.0, tries=8,
              commit_timeout=120.0)
        with BoardSession(board.url, board_id=1, key=KEY, epoch_file=epoch, timeout=2.0) as s:
            s.hello()
            msg = s.infer(np.asarray(x, np.int8).tobytes(), timeout=timeout)
    if not isinstance(msg, Result):
        raise RuntimeError(f"the firmware answered {msg!r}")
    return int(msg.compute_us) * 1000


def instruction_counts(ctx: BenchContext, timeout: float = 120.0) -> dict:
    """model -> instructions per inference (measured in QEMU, or extrapolated when too big)."""
    from firmware_bridge.qemu import SLOT_SIZE

    rows: dict[str, dict] = {}
    models = ctx.variants + ([BASELINE] if ctx.has_baseline else [])
    for name in models:
        vpw = golden_vpw(ctx, name)
        if len(vpw) > SLOT_SIZE:
            rows[name] = {"skipped": f".vpw of {len(vpw):,} B exceeds the firmware slot "
                                     f"({SLOT_SIZE:,} B)"}
            continue
        with tempfile.TemporaryDirectory(prefix="vp-bench-qemu-") as tmp:
            try:
                n = _count(vpw, fixed_input(ctx, name), Path(tmp), timeout)
            except Exception as e:  # noqa: BLE001 - reported, the bench goes on
                LOG.warning("QEMU run of %s failed: %s", name, e)
                rows[name] = {"error": f"{type(e).__name__}: {e}"[:300]}
                continue
        rows[name] = {"instructions": fig(n, "measured", "instr", "QEMU -icount shift=0, "
                                          "RESULT.compute_us x 1000, C engine on .vpw"),
                      "vpw_bytes": fig(len(vpw), "measured", "B", "packed model")}
    per_mac = [rows[v]["instructions"]["value"] / ctx.cards[v]["macs"]
               for v in ctx.variants if "instructions" in rows.get(v, {})]
    if per_mac:
        ipm = float(np.median(per_mac))
        for name, row in rows.items():
            if "instructions" not in row:
                row["instructions"] = fig(ipm * ctx.cards[name]["macs"], "modelled", "instr",
                                          f"extrapolated: {ipm:.1f} instructions/MAC (median of "
                                          "the variants) x MACs")
        rows["_instructions_per_mac"] = {"median": fig(ipm, "measured", "instr/MAC",
                                                       "variants run in QEMU")}
    return rows


def mcu_seconds(instructions: float, clock_hz: int) -> float:
    return instructions * CPI / clock_hz
