"""Section 2, microcontroller: instruction counts from the firmware in QEMU, per core.

Each variant's .vpw is flashed (verified, ``vp-edge flash``'s LOAD session) into a host-process
board with the same storage layout, and that flash file is then booted by the firmware of each
QEMU target (CORES: Cortex-M4 mps2-an386, Cortex-M7 mps2-an500, Cortex-M33 mps2-an505, and the
STM32F405 on netduinoplus2) with ``-icount shift=0`` (1 instruction = 1 ns of virtual time),
through ``vp_edge.benchmark.qemu_infer``, the counting path ``vp-edge benchmark`` uses too; one
INFER of the fixed input is timed by the firmware itself: RESULT.compute_us x 1000 = instructions
(measured, deterministic, +-1000). Modelled MCU time = instructions x CPI / clock of the board
profile (CPI = 1 assumed). A model whose .vpw does not fit the firmware's slot gets instructions
extrapolated from the variants' instructions per MAC (modelled, and said so).

``python -m experiments.bench.mcu MODEL.tflite ... [--out FILE.md]`` measures .tflite files outside
a run (the cores table only).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from converters.vpw_run import VPW_TARGET  # the .vpw layout every Arm firmware target reads
from experiments.bench.comm import fixed_input
from experiments.bench.context import BenchContext
from experiments.bench.figures import fig
from vp_edge.train import BASELINE

LOG = logging.getLogger(__name__)
KEY = b"vp-edge bench qemu key!"
CPI = 1.0


def qemu_available() -> str | None:
    """None when QEMU and the ARM toolchain are there, else why not."""
    from firmware_bridge.firmware.qemu import missing_tools

    missing = missing_tools("qemu")
    return f"missing tools: {', '.join(missing)}" if missing else None


def golden_vpw(ctx: BenchContext, name: str) -> bytes:
    """The packed model with a golden self-test (the firmware refuses to commit without one)."""
    from converters.vpw import tflite_to_vpw

    x = fixed_input(ctx, name)
    return tflite_to_vpw(
        ctx.model_path(name).read_bytes(), golden_input=x.reshape(-1), target=VPW_TARGET
    )


#: core -> firmware target run in QEMU; the first one is the section's "instructions"
CORES = {
    "cortex-m4": "mps2-an386",
    "cortex-m7": "mps2-an500",
    "cortex-m33": "mps2-an505",
    "stm32f405": "stm32f405",
}


def _host_topk(vpw: bytes, x: np.ndarray, k: int) -> tuple:
    """The host C engine's top-k: highest score first, ties to the lower class index."""
    from firmware_bridge.engine import Engine

    y = Engine(vpw).run(np.asarray(x, np.int8)).ravel()
    order = sorted(range(y.size), key=lambda i: (-int(y[i]), i))[:k]
    return tuple((i, int(y[i])) for i in order)


def core_counts(
    vpw: bytes, x: np.ndarray, timeout: float = 120.0, cores: tuple[str, ...] = tuple(CORES)
) -> tuple[dict[str, dict], dict[str, bool]]:
    """(core -> instructions of one inference (a figure) or {"error": ...}, core -> whether its
    RESULT equals the host C engine's top-k), for each of ``cores`` (keys of CORES)."""
    from vp_edge.benchmark import qemu_infer

    out: dict[str, dict] = {}
    same: dict[str, bool] = {}
    for core in cores:
        target = CORES[core]
        try:
            us, pairs = qemu_infer(vpw, x, target, 1, timeout)
        except Exception as e:
            LOG.warning("QEMU %s run failed: %s", target, e)
            out[core] = {"error": f"{type(e).__name__}: {e}"[:300]}
            continue
        out[core] = fig(
            us[0] * 1000,
            "measured",
            "instr",
            f"QEMU {target} -icount shift=0, RESULT.compute_us x 1000",
        )
        same[core] = tuple(pairs) == _host_topk(vpw, x, len(pairs))
    return out, same


def tflite_core_counts(
    tfl: bytes, cores: tuple[str, ...] = tuple(CORES), timeout: float = 120.0
) -> dict:
    """One .tflite outside a run on each of ``cores``: packed in the Arm layout with a golden
    self-test of a fixed random input (seed 0), booted and counted as ``core_counts`` does.
    {"vpw_bytes", "cores", "identical"}, or {"skipped": why} when the .vpw exceeds the slot."""
    from converters.vpw import read_vpw, tflite_to_vpw
    from firmware_bridge.firmware.qemu import SLOT_SIZE

    n = int(read_vpw(tflite_to_vpw(tfl)).header["in_size"])
    x = np.random.default_rng(0).integers(-128, 128, n, dtype=np.int8)
    vpw = tflite_to_vpw(tfl, golden_input=x, target=VPW_TARGET)
    if len(vpw) > SLOT_SIZE:
        return {"skipped": f".vpw of {len(vpw):,} B exceeds the firmware slot ({SLOT_SIZE:,} B)"}
    counts, same = core_counts(vpw, x, timeout, cores)
    return {
        "vpw_bytes": fig(len(vpw), "measured", "B", "packed model"),
        "cores": counts,
        "identical": same,
    }


def instruction_counts(ctx: BenchContext, timeout: float = 120.0) -> dict:
    """model -> instructions per inference (measured in QEMU, or extrapolated when too big)."""
    from firmware_bridge.firmware.qemu import SLOT_SIZE

    rows: dict[str, dict] = {}
    models = ctx.variants + ([BASELINE] if ctx.has_baseline else [])
    for name in models:
        vpw = golden_vpw(ctx, name)
        if len(vpw) > SLOT_SIZE:
            rows[name] = {
                "skipped": f".vpw of {len(vpw):,} B exceeds the firmware slot ({SLOT_SIZE:,} B)"
            }
            continue
        cores, same = core_counts(vpw, fixed_input(ctx, name), timeout)
        m4 = cores[next(iter(CORES))]
        if "error" in m4:
            rows[name] = {"error": m4["error"], "cores": cores, "identical": same}
            continue
        rows[name] = {
            "instructions": fig(
                m4["value"],
                "measured",
                "instr",
                "QEMU -icount shift=0, RESULT.compute_us x 1000, C engine on .vpw",
            ),
            "vpw_bytes": fig(len(vpw), "measured", "B", "packed model"),
            "cores": cores,
            "identical": same,
        }
    per_mac = [
        rows[v]["instructions"]["value"] / ctx.cards[v]["macs"]
        for v in ctx.variants
        if "instructions" in rows.get(v, {})
    ]
    if per_mac:
        ipm = float(np.median(per_mac))
        for name, row in rows.items():
            if "instructions" not in row:
                row["instructions"] = fig(
                    ipm * ctx.cards[name]["macs"],
                    "modelled",
                    "instr",
                    f"extrapolated: {ipm:.1f} instructions/MAC (median of the variants) x MACs",
                )
        rows["_instructions_per_mac"] = {
            "median": fig(ipm, "measured", "instr/MAC", "variants run in QEMU")
        }
    return rows


def mcu_seconds(instructions: float, clock_hz: int) -> float:
    return instructions * CPI / clock_hz


def _cell(c: dict, same: bool | None) -> str:
    if "value" in c:
        return f"{c['value'] / 1e6:.3f} M" + (" (RESULT differs)" if same is False else "")
    return "does not fit the slot" if "TOO_BIG" in c.get("error", "") else "error"


def cores_markdown(rows: dict[str, dict]) -> list[str]:
    """The side-by-side table: model x core, instructions per inference (M = millions)."""
    names = [m for m, r in rows.items() if not m.startswith("_") and "cores" in r]
    if not names:
        return []
    cores = list(CORES)
    out = [
        "### Instructions per inference on Cortex-M4, M7 and M33 (QEMU)",
        "",
        "Same C engine and .vpw, built per core (`-mcpu`) from "
        "firmware_bridge/firmware/targets.py; QEMU `-icount shift=0`, one INFER of the fixed "
        "input, RESULT.compute_us x 1000 "
        "(+-1000); every count shown came with a RESULT equal to the host C engine's top-k "
        "unless marked. Instruction counts, not cycles: QEMU does not model pipelines or wait "
        "states. stm32f405 is the STM32F4 target on its own registers in netduinoplus2 "
        "(384 KB model slots).",
        "",
        "| model | .vpw | " + " | ".join(f"{c} (`{CORES[c]}`)" for c in cores) + " |",
        "|---|---|" + "---|" * len(cores),
    ]
    for m in names:
        r = rows[m]
        cells = [_cell(r["cores"].get(c, {}), r.get("identical", {}).get(c)) for c in cores]
        size = r.get("vpw_bytes", {}).get("value")
        out.append(
            f"| {m} | {size:,} B | " + " | ".join(cells) + " |"
            if size
            else f"| {m} | - | " + " | ".join(cells) + " |"
        )
    return out + [""]


def main(argv: list[str] | None = None) -> int:
    """Cores table for .tflite files: golden input from a fixed seed, as the bench does."""
    import argparse
    import json

    ap = argparse.ArgumentParser(prog="python -m experiments.bench.mcu")
    ap.add_argument("models", nargs="+", type=Path, help=".tflite files (int8)")
    ap.add_argument("--out", type=Path, help="also write the markdown table (and .json) here")
    a = ap.parse_args(argv)
    rows = {path.stem: tflite_core_counts(path.read_bytes()) for path in a.models}
    for name, row in rows.items():
        if "skipped" in row:
            print(f"{name}: not run, {row['skipped']}")
    text = "\n".join(cores_markdown(rows))
    print(text)
    if a.out:
        a.out.write_text(text)
        a.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
