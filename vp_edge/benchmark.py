"""Latency of one model on every local runtime, like TFLite's ``benchmark_model``.

A .tflite runs on LiteRT (reference kernels: what offline evaluation runs; the optimised builtin
kernels; the default XNNPACK delegate, what Linux boards serve with), on tflite-micro (the MCU
kernels on this host) and, packed in memory, on the portable C engine; a .vpw runs on the C engine.
Where QEMU and the ARM toolchain are installed, the Cortex-M4 firmware runs it too and reports its
instruction count (``-icount``: 1 instruction = 1 ns of virtual time). Each runtime: load, one first
inference, then a fixed number of timed runs on one seeded random int8 input, one thread.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from converters.quiet import native_quiet
from vp_edge.timing import median_time

TFLITE_RUNTIMES = ("litert-ref", "litert-builtin", "xnnpack", "tflm", "engine")
VPW_RUNTIMES = ("engine",)
#: asked for by name only (a Verilator build the first time): the simulated FPGA overlay
EXTRA_RUNTIMES = ("fpga",)
QEMU_KEY = b"vp-edge benchmark qemu key"


def _loader(runtime: str, kind: str, model: bytes) -> Callable[[], tuple[tuple, Callable]]:
    """A call that loads ``model`` on ``runtime``: (input shape, run(x) -> output)."""

    def load() -> tuple[tuple, Callable]:
        if runtime.startswith("litert") or runtime == "xnnpack":
            from vp_edge.runtime import TfliteRunner

            kernels = {"litert-ref": "ref", "litert-builtin": "builtin"}.get(runtime, "xnnpack")
            with native_quiet():  # "Created TensorFlow Lite XNNPACK delegate", from C++
                r = TfliteRunner(model, kernels=kernels)
            return r.input_shape, r.run
        from boards.runners import make_runner

        name = {"tflm": "tflm", "engine": "engine"}[runtime]
        blob = _vpw(model) if runtime == "engine" and kind == "tflite" else model
        r = make_runner(name, blob)
        return r.input_shape, r.run

    return load


def _vpw(tflite: bytes, golden_input: np.ndarray | None = None) -> bytes:
    from converters.vpw import tflite_to_vpw

    return tflite_to_vpw(tflite, golden_input=golden_input)


def _one(runtime: str, kind: str, model: bytes, runs: int, seed: int) -> dict:
    """Load time, first inference and the timed runs of one runtime, in milliseconds."""
    t0 = time.perf_counter()
    shape, run = _loader(runtime, kind, model)()
    load_s = time.perf_counter() - t0
    x = np.random.default_rng(seed).integers(-128, 128, shape, dtype=np.int8)
    t0 = time.perf_counter()
    out = run(x)
    first_s = time.perf_counter() - t0
    t = median_time(lambda: run(x), runs)  # its own warm-up call, then ``runs`` timed calls
    return {
        "load_ms": round(1e3 * load_s, 3),
        "first_ms": round(1e3 * first_s, 3),
        "median_ms": round(1e3 * t["median_s"], 4),
        "min_ms": round(1e3 * t["min_s"], 4),
        "max_ms": round(1e3 * t["max_s"], 4),
        "runs": t["runs"],
        "output_sha256": hashlib.sha256(np.asarray(out, np.int8).tobytes()).hexdigest()[:16],
    }


def _fpga(kind: str, model: bytes, seed: int) -> dict:
    """The RTL-simulated overlay (fpga/): cycles, ms at its clock, utilisation, output SHA."""
    from fpga.bench import benchmark_row

    return benchmark_row(_vpw(model) if kind == "tflite" else model, seed=seed)


def qemu_missing() -> str | None:
    from firmware_bridge.qemu import missing_tools

    missing = missing_tools("qemu")
    return f"needs {', '.join(missing)} (make setup installs them)" if missing else None


def _qemu(kind: str, model: bytes, runs: int, seed: int, timeout: float) -> dict:
    """Flash the model into the QEMU firmware and time ``runs`` INFERs by the firmware's clock."""
    from boards.emulated import firmware_elf
    from boards.runners import make_runner
    from firmware_bridge.flash import flash
    from firmware_bridge.protocol import Result
    from firmware_bridge.qemu import start_qemu
    from firmware_bridge.session import BoardSession

    shape = make_runner("tflm" if kind == "tflite" else "engine", model).input_shape
    x = np.random.default_rng(seed).integers(-128, 128, shape, dtype=np.int8)
    vpw = _vpw(model, golden_input=x.reshape(-1)) if kind == "tflite" else model
    elf = firmware_elf(2, 1000)
    with tempfile.TemporaryDirectory(prefix="vp-benchmark-qemu-") as tmp:
        epoch = Path(tmp) / "gateway.epoch"
        with start_qemu(Path(tmp) / "flash.bin", board_id=1, key=QEMU_KEY, elf=elf) as board:
            flash(
                board.url,
                vpw,
                board_id=1,
                key=QEMU_KEY,
                epoch_file=epoch,
                timeout=3.0,
                tries=8,
                commit_timeout=timeout,
            )
            with BoardSession(
                board.url, board_id=1, key=QEMU_KEY, epoch_file=epoch, timeout=2.0
            ) as s:
                s.hello()
                us = []
                for _ in range(runs):
                    msg = s.infer(x.tobytes(), timeout=timeout)
                    if not isinstance(msg, Result):
                        raise RuntimeError(f"the firmware answered {msg!r}")
                    us.append(int(msg.compute_us))
    return {
        "instructions": int(np.median(us)) * 1000,
        "median_ms": round(np.median(us) / 1e3, 4),
        "runs": len(us),
        "note": "virtual time under -icount (1 instruction = 1 ns); on a "
        "real Cortex-M4 divide the instructions by its clock",
    }


def benchmark(
    kind: str,
    model: bytes,
    runs: int = 50,
    runtimes: tuple[str, ...] | None = None,
    qemu: bool = True,
    seed: int = 0,
    qemu_runs: int = 3,
    on_runtime: Callable[[str], None] | None = None,
) -> dict:
    """runtime -> figures (or ``{"error"}`` / ``{"skipped"}``) for one model's bytes."""
    known = TFLITE_RUNTIMES if kind == "tflite" else VPW_RUNTIMES
    chosen = runtimes or known
    rows: dict[str, dict] = {}
    for rt in chosen:
        if on_runtime:
            on_runtime(rt)
        if rt not in known and rt not in EXTRA_RUNTIMES:
            rows[rt] = {"skipped": f"a .{kind} model does not run on {rt}"}
            continue
        try:
            fpga = rt == "fpga"
            rows[rt] = _fpga(kind, model, seed) if fpga else _one(rt, kind, model, runs, seed)
        except Exception as e:  # noqa: BLE001 - a runtime that cannot run the model is a result
            rows[rt] = {"error": f"{type(e).__name__}: {e}".splitlines()[0][:300]}
    if qemu:
        if on_runtime:
            on_runtime("qemu")
        why = qemu_missing()
        try:
            rows["qemu"] = {"skipped": why} if why else _qemu(kind, model, qemu_runs, seed, 120.0)
        except Exception as e:  # noqa: BLE001
            rows["qemu"] = {"error": f"{type(e).__name__}: {e}".splitlines()[0][:300]}
    return {
        "kind": kind,
        "bytes": len(model),
        "sha256": hashlib.sha256(model).hexdigest(),
        "runs": runs,
        "seed": seed,
        "runtimes": rows,
    }
