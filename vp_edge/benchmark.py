"""Latency of one model on every local runtime, like TFLite's ``benchmark_model``.

A .tflite runs on LiteRT (reference kernels: what offline evaluation runs; the optimised builtin
kernels; the default XNNPACK delegate, what Linux boards serve with), on tflite-micro (the MCU
kernels on this host) and, packed in memory, on the portable C engine; a .vpw runs on the C engine.
Where QEMU and the ARM toolchain are installed, the Cortex-M4 firmware runs it too (a .tflite packed
here in the Arm layout the firmware reads) and reports its instruction count (``-icount``: 1
instruction = 1 ns of virtual time) and instructions per MAC; ``qemu-m7`` is the Cortex-M7 build.
Each host runtime: load, one first inference, then a fixed number of timed runs on one seeded
random int8 input, one thread.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from converters.quiet import native_quiet
from vp_edge.timing import median_time

TFLITE_RUNTIMES = ("litert-ref", "litert-builtin", "xnnpack", "tflm", "engine")
VPW_RUNTIMES = ("engine",)
#: firmware rows: runtime -> (QEMU firmware target, the .vpw layout packed for it)
QEMU_RUNTIMES = {"qemu-m4": ("mps2-an386", "cortex-m4"), "qemu-m7": ("mps2-an500", "cortex-m7")}
#: asked for by name only (a Verilator build the first time): the simulated FPGA overlay
EXTRA_RUNTIMES = ("fpga",)
ALL_RUNTIMES = TFLITE_RUNTIMES + tuple(QEMU_RUNTIMES) + EXTRA_RUNTIMES
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


def _vpw(tflite: bytes) -> bytes:
    from converters.vpw import tflite_to_vpw

    return tflite_to_vpw(tflite)


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
    from firmware_bridge.firmware.qemu import missing_tools

    missing = missing_tools("qemu")
    return f"needs {', '.join(missing)} (make setup installs them)" if missing else None


def _arm_vpw(kind: str, model: bytes, layout: str, x: np.ndarray) -> bytes:
    """The model in the Arm layout the firmware reads, with a golden self-test of ``x`` (the
    firmware commits no model without one): a .tflite is packed here, a .vpw must already be."""
    from converters.vpw import read_vpw
    from vp_edge.errors import UsageError

    if kind == "tflite":
        return _vpw_for(model, x.reshape(-1), layout)
    target = read_vpw(model).header["target_name"]
    if target == "generic":
        raise UsageError(
            f"the .vpw is packed for the generic layout, which the firmware refuses: repack it "
            f"with 'vp-edge pack MODEL.tflite --target {layout}'"
        )
    return model


def _vpw_for(tflite: bytes, golden_input: np.ndarray, target: str) -> bytes:
    from converters.vpw import tflite_to_vpw

    return tflite_to_vpw(tflite, golden_input=golden_input, target=target)


def qemu_infer(
    vpw: bytes,
    x: np.ndarray,
    target: str,
    runs: int = 1,
    timeout: float = 120.0,
    *,
    elf: Path | None = None,
    icount: bool = True,
    extra: tuple[str, ...] = (),
) -> tuple[list[int], tuple]:
    """The one QEMU counting path (``vp-edge benchmark``'s rows, the bench's cores table, the
    planner's calibration): ``vpw`` flashed by a verified LOAD session into a host-process
    board with ``target``'s storage layout, that flash booted by ``target``'s firmware in QEMU
    (``elf``, else its default build) and ``runs`` INFERs of ``x`` answered: the firmware's own
    compute_us of each (instructions / 1000 under ``-icount shift=0``) and the last RESULT's
    pairs. A host board writes the flash faster than the emulated UART, and QEMU cannot write
    the STM32F4's flash at all."""
    from firmware_bridge.firmware.qemu import start_host, start_qemu
    from firmware_bridge.firmware.targets import get_target
    from firmware_bridge.flash import flash
    from firmware_bridge.protocol import Result
    from firmware_bridge.protocol.session import BoardSession

    host = "host-stm32f4" if get_target(target).kind == "stm32f4" else "host"
    with tempfile.TemporaryDirectory(prefix="vp-benchmark-qemu-") as tmp:
        epoch, store = Path(tmp) / "gateway.epoch", Path(tmp) / "flash.bin"
        with start_host(store, board_id=1, key=QEMU_KEY, target=host) as board:
            flash(board.url, vpw, board_id=1, key=QEMU_KEY, epoch_file=epoch)
        with start_qemu(
            store, board_id=1, key=QEMU_KEY, elf=elf, target=target, icount=icount, extra=extra
        ) as board:
            with BoardSession(
                board.url, board_id=1, key=QEMU_KEY, epoch_file=epoch, timeout=2.0
            ) as s:
                s.hello()
                us: list[int] = []
                pairs: tuple = ()
                for _ in range(runs):
                    msg = s.infer(np.asarray(x, np.int8).tobytes(), timeout=timeout)
                    if not isinstance(msg, Result):
                        raise RuntimeError(f"the firmware on {target} answered {msg!r}")
                    us.append(int(msg.compute_us))
                    pairs = tuple(msg.pairs)
    return us, pairs


def m4_cycles(elf: Path, vpw: bytes, x: np.ndarray, instructions: int, timeout: float) -> dict:
    """Cortex-M4 cycles estimated from the engine's executed instruction mix (one traced run;
    firmware_bridge.firmware.cycles states the timings and assumptions)."""
    from firmware_bridge.firmware.cycles import P_PIPELINE, TraceReader

    with tempfile.TemporaryDirectory(prefix="vp-benchmark-trace-") as tmp:
        reader = TraceReader(elf, Path(tmp))
        qemu_infer(vpw, x, "mps2-an386", 1, timeout, elf=elf, extra=reader.args)
        t = reader.wait(timeout)
    return {
        "cycles_estimate": round(instructions * t.per_instruction()),
        "cycles_estimate_range": [round(instructions * t.per_instruction(p)) for p in (1, 3)],
        "cycles_note": "estimate, not a measurement: the engine's executed instructions priced "
        f"with the Cortex-M4 TRM's Table 3-1, zero wait states, branch refill P = {P_PIPELINE} "
        "(range: P = 1 and 3)",
    }


def _qemu(kind: str, model: bytes, runtime: str, runs: int, seed: int, timeout: float) -> dict:
    """Flash the model into the QEMU firmware of ``runtime`` and count ``runs`` INFERs by the
    firmware's clock (``-icount shift=0``: 1 instruction = 1 ns of virtual time); on the
    Cortex-M4, a traced run adds the cycle estimate."""
    from boards.emulators import firmware_elf
    from boards.runners import make_runner
    from converters.vpw import read_vpw
    from firmware_bridge.firmware.qemu import elf_size

    machine, layout = QEMU_RUNTIMES[runtime]
    shape = make_runner("tflm" if kind == "tflite" else "engine", model).input_shape
    x = np.random.default_rng(seed).integers(-128, 128, shape, dtype=np.int8)
    vpw = _arm_vpw(kind, model, layout, x)
    info = read_vpw(vpw)
    elf = firmware_elf(2, 1000, machine)
    us, _ = qemu_infer(vpw, x, machine, runs, timeout, elf=elf)
    n = int(np.median(us)) * 1000
    size = elf_size(elf, machine)
    row: dict[str, Any] = {
        "machine": machine,
        "layout": layout,
        "firmware_flash_bytes": size["flash"],
        "firmware_ram_bytes": size["ram"],
        "model_bytes": len(vpw),
        "arena_bytes": int(info.header["arena_size"]),
        "instructions": n,
        "macs": info.macs,
        "instructions_per_mac": round(n / info.macs, 3) if info.macs else None,
        "median_ms": round(np.median(us) / 1e3, 4),
        "runs": len(us),
        "note": f"instructions counted by QEMU {machine} -icount shift=0 (1 instruction = 1 ns "
        "of virtual time, +-1000), not cycles and not milliseconds of a real board",
    }
    if machine == "mps2-an386":
        row.update(m4_cycles(elf, vpw, x, n, timeout))
        if info.macs:
            row["cycles_per_mac_estimate"] = round(row["cycles_estimate"] / info.macs, 3)
    return row


def _row(rt: str, kind: str, model: bytes, runs: int, seed: int, qemu_runs: int) -> dict:
    """One runtime's figures, or why it was skipped."""
    if rt in QEMU_RUNTIMES:
        why = qemu_missing()
        return {"skipped": why} if why else _qemu(kind, model, rt, qemu_runs, seed, 300.0)
    if rt == "fpga":
        return _fpga(kind, model, seed)
    if rt not in (TFLITE_RUNTIMES if kind == "tflite" else VPW_RUNTIMES):
        return {"skipped": f"a .{kind} model does not run on {rt}"}
    return _one(rt, kind, model, runs, seed)


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
    chosen = runtimes or (known + (("qemu-m4",) if qemu else ()))
    rows: dict[str, dict] = {}
    for rt in chosen:
        if on_runtime:
            on_runtime(rt)
        try:
            rows[rt] = _row(rt, kind, model, runs, seed, qemu_runs)
        except Exception as e:
            rows[rt] = {"error": f"{type(e).__name__}: {e}".splitlines()[0][:300]}
    return {
        "kind": kind,
        "bytes": len(model),
        "sha256": hashlib.sha256(model).hexdigest(),
        "runs": runs,
        "seed": seed,
        "runtimes": rows,
    }


def parse_runtimes(text: str | None) -> tuple[str, ...] | None:
    """``--runtimes a,b``: the rows asked for (None: the default rows); an unknown name is a
    UsageError listing the known ones."""
    from vp_edge.errors import UsageError

    if not text:
        return None
    runtimes = tuple(r.strip() for r in text.split(",") if r.strip())
    if unknown := sorted(set(runtimes) - set(ALL_RUNTIMES)):
        raise UsageError(
            f"--runtimes: unknown {', '.join(unknown)}; known: {', '.join(ALL_RUNTIMES)}"
        )
    return runtimes


def benchmark_file(
    path: Path,
    runs: int = 50,
    runtimes: str | tuple[str, ...] | None = None,
    *,
    qemu: bool = True,
    seed: int = 0,
    qemu_runs: int = 3,
    on_runtime: Callable[[str], None] | None = None,
) -> dict:
    """``benchmark`` of the model file ``path`` (a .tflite or .vpw, told by its bytes), after
    checking it against its card: a corrupt model is refused, not timed. ``runtimes`` as a
    string is ``--runtimes``' list (``parse_runtimes``), checked after the model."""
    from converters.card import check_model_file
    from vp_edge.checks import read_model

    kind, data = read_model(path, "MODEL")
    check_model_file(data, path)
    if isinstance(runtimes, str):
        runtimes = parse_runtimes(runtimes)
    report = benchmark(
        kind, data, runs, runtimes, qemu=qemu, seed=seed, qemu_runs=qemu_runs, on_runtime=on_runtime
    )
    report["model"] = str(path)
    return report


def failed(report: dict, named: bool) -> list[str]:
    """Rows that failed: any error, and any skip of a row the user named (``named``)."""
    return [
        rt
        for rt, row in report["runtimes"].items()
        if "error" in row or (named and "skipped" in row)
    ]
