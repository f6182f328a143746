"""Bench section "kernels": the engines side by side on the demo family and two reference workloads.

One run measures, per model: instructions per inference and per MAC of the Cortex-M4
(mps2-an386) and Cortex-M7 (mps2-an500) firmware in QEMU (``-icount shift=0``, the cortex-m4
layout with the SXTB16/SMLAD kernels, built and counted by experiments.bench.mcu); host milliseconds
per inference (one thread, batch 1, median of ``repeats`` runs of the thread's CPU time) for the
C engine (generic layout), LiteRT reference kernels, LiteRT builtin kernels without delegates,
LiteRT with XNNPACK and tflite-micro; peak RAM of the C engine (its planned arena: activations +
scratch) beside tflite-micro's smallest working arena. Models are converted untrained
(vp_edge.workloads): cost and speed do not depend on the weights' values.

``python -m experiments.bench.kernels --out bench/results`` writes kernels.json and kernels.md and
puts the table into report.md (between the ``kernels`` markers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from experiments.bench.report_fmt import splice_section

ENGINES = ("c-engine", "litert-ref", "litert-builtin", "xnnpack", "tflm")
#: workload -> (name in the table, best published Cortex-M4 cycles: ST X-CUBE-AI 9.0 latency
#: x 120 MHz, MLPerf Tiny v1.2 on NUCLEO-L4R5ZI)
PUBLISHED = {
    "resnet8": ("ResNet-8", 19_812_000),
    "vww": ("VWW MobileNetV1-0.25 96x96", 10_668_000),
    "ds_cnn": ("DS-CNN KWS", 5_184_000),
}
#: cores counted in QEMU (keys of experiments.bench.mcu.CORES) -> the report's column prefix
QEMU_CORES = {"cortex-m4": "m4", "cortex-m7": "m7"}


def build_models(out: Path, family: str) -> dict[str, int]:
    """name -> MACs; the .tflite files are written by vp_edge.workloads in a child process."""
    macs_file = out / "macs.json"
    if not macs_file.exists():
        cmd = [sys.executable, "-m", "vp_edge.workloads", str(out), family]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        if r.returncode != 0:
            raise RuntimeError(f"building the models failed: {r.stderr[-2000:]}")
        macs_file.write_text(r.stdout.strip().splitlines()[-1])
    return json.loads(macs_file.read_text())


def _median_s(fn, repeats: int) -> float:
    """Median seconds per call of the calling thread's CPU time: every engine here runs on that
    thread (one thread), and time spent waiting for a core on a shared machine does not count."""
    fn()
    t0 = time.thread_time()
    fn()
    inner = int(min(200, max(1, 0.05 / max(time.thread_time() - t0, 1e-6))))
    runs = []
    for _ in range(repeats):
        t0 = time.thread_time()
        for _ in range(inner):
            fn()
        runs.append((time.thread_time() - t0) / inner)
    return float(np.median(runs))


def host_ms(tfl: bytes, repeats: int) -> dict[str, float]:
    """Median milliseconds per inference of each host engine on one fixed random input."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tflite_micro import runtime

    from converters.vpw import tflite_to_vpw
    from firmware_bridge.engine import Engine

    out = {}
    eng = Engine(tflite_to_vpw(tfl, target="generic"))
    x = np.random.default_rng(0).integers(-128, 128, eng.info["input_size"], dtype=np.int8)
    out["c-engine"] = _median_s(lambda: eng.run(x), repeats)
    kinds = {"litert-ref": OpResolverType.BUILTIN_REF, "xnnpack": OpResolverType.AUTO,
             "litert-builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}  # fmt: skip
    for name, kind in kinds.items():
        it = Interpreter(model_content=tfl, experimental_op_resolver_type=kind, num_threads=1)
        it.allocate_tensors()
        d = it.get_input_details()[0]
        it.set_tensor(d["index"], x.reshape(d["shape"]))
        out[name] = _median_s(it.invoke, repeats)
    tm = runtime.Interpreter.from_bytes(tfl, arena_size=max(10 * len(tfl), 1 << 20))
    batch = x.reshape(1, *eng.info["input_shape"][1:])

    def tflm() -> None:
        tm.set_input(batch, 0)
        tm.invoke()

    out["tflm"] = _median_s(tflm, repeats)
    return {k: v * 1e3 for k, v in out.items()}


def qemu_counts(tfl: bytes, n_macs: int) -> dict:
    """Instructions of one INFER on each of QEMU_CORES' firmware, through the bench's one
    firmware-build-and-count path (experiments.bench.mcu): ``m4_instructions``, ``m4_per_mac``,
    ``m4_same_topk`` (RESULT equals the host C engine's top-k), the same for ``m7``, a core's
    ``<core>_error`` when its run failed, or ``qemu_skipped`` when the .vpw exceeds the slot."""
    from experiments.bench.mcu import tflite_core_counts

    counts = tflite_core_counts(tfl, tuple(QEMU_CORES), timeout=600)
    if "skipped" in counts:
        return {"qemu_skipped": counts["skipped"]}
    row: dict = {}
    for core, key in QEMU_CORES.items():
        c = counts["cores"][core]
        if "value" not in c:
            row[f"{key}_error"] = c.get("error", "no count")
            continue
        n = int(c["value"])
        row.update(
            {
                f"{key}_instructions": n,
                f"{key}_per_mac": n / n_macs,
                f"{key}_same_topk": counts["identical"].get(core),
            }
        )
    return row


def m4_cycle_estimate(tfl: bytes, instructions: int) -> dict:
    """The Cortex-M4 cycle estimate of one inference (vp_edge.benchmark.m4_cycles: a traced QEMU
    run, the engine's instruction mix priced with the M4 TRM's timings), on the seed-0 input
    that experiments.bench.mcu counted."""
    from boards.emulators import firmware_elf
    from converters.vpw import read_vpw, tflite_to_vpw
    from vp_edge.benchmark import m4_cycles

    n = int(read_vpw(tflite_to_vpw(tfl)).header["in_size"])
    x = np.random.default_rng(0).integers(-128, 128, n, dtype=np.int8)
    vpw = tflite_to_vpw(tfl, golden_input=x, target="cortex-m4")
    est = m4_cycles(firmware_elf(2, 1000, "mps2-an386"), vpw, x, instructions, 900.0)
    return {"m4_cycles": est["cycles_estimate"], "m4_cycles_range": est["cycles_estimate_range"]}


def ram(tfl: bytes, path: Path) -> dict[str, int]:
    from converters.card import measure_arena
    from converters.vpw import read_vpw, tflite_to_vpw

    arena = int(read_vpw(tflite_to_vpw(tfl, target="cortex-m4")).header["arena_size"])
    return {"c_engine_arena": arena, "tflm_arena": measure_arena(path)}


def measure(models: Path, macs: dict[str, int], repeats: int) -> dict:
    rows = {}
    for name, n_macs in macs.items():
        path = models / f"{name}.tflite"
        tfl = path.read_bytes()
        row: dict = {"macs": n_macs}
        row.update(qemu_counts(tfl, n_macs))
        if "m4_instructions" in row:
            row.update(m4_cycle_estimate(tfl, row["m4_instructions"]))
        row["ms"] = host_ms(tfl, repeats)
        row["c_over_builtin"] = row["ms"]["c-engine"] / row["ms"]["litert-builtin"]
        row["c_over_xnnpack"] = row["ms"]["c-engine"] / row["ms"]["xnnpack"]
        row.update(ram(tfl, path))
        rows[name] = row
        print(name, json.dumps(row), flush=True)
    return rows


def _qemu_cells(row: dict, key: str) -> str:
    """'instructions | per MAC' of one core, marked when its RESULT differed from the host's."""
    if f"{key}_instructions" not in row:
        return "not run | —"
    flag = " (RESULT differs)" if row.get(f"{key}_same_topk") is False else ""
    return f"{row[f'{key}_instructions']:,}{flag} | {row[f'{key}_per_mac']:.2f}"


def markdown(r: dict) -> str:
    """The report section: one table, the commands and the machine."""
    lines = [
        "## Kernels (C engine vs LiteRT, XNNPACK, tflite-micro; Cortex-M4 and M7 in QEMU)",
        "",
        f"`{r['command']}` — {r['when']}, {r['machine']}; host figures are medians of "
        f"{r['repeats']} runs of the calling thread's CPU time (`time.thread_time`), one thread, "
        "batch 1, on a machine shared with other builds (waiting for a core does not count; "
        "cache and memory contention still do). Models converted untrained (cost and speed do "
        "not depend on weights). QEMU `-icount shift=0` counts instructions, not cycles: "
        "Cortex-M4 on `mps2-an386`, Cortex-M7 on `mps2-an500`, the same firmware built per "
        "core (`-mcpu`) running the cortex-m4 layout (SXTB16/SMLAD kernels on both); every "
        "count came with a RESULT equal to the host C engine's top-k unless marked.",
        "",
        "| model | MACs | M4 instr | M4 instr/MAC | M4 cycles (estimate) | M7 instr "
        "| M7 instr/MAC | C engine ms "
        "| ref ms | builtin ms | XNNPACK ms | tflite-micro ms | C/builtin | C/XNNPACK "
        "| C arena B | TFLM arena B |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in r["models"].items():
        ms = row["ms"]
        lines.append(
            f"| {name} | {row['macs']:,} | {_qemu_cells(row, 'm4')} | {_cycles_cell(row)} "
            f"| {_qemu_cells(row, 'm7')} "
            f"| {ms['c-engine']:.3f} | {ms['litert-ref']:.3f} "
            f"| {ms['litert-builtin']:.3f} | {ms['xnnpack']:.3f} | {ms['tflm']:.3f} "
            f"| {row['c_over_builtin']:.2f} | {row['c_over_xnnpack']:.2f} "
            f"| {row['c_engine_arena']:,} | {row['tflm_arena']:,} |"
        )
    notes = [
        f"{n}: {row['qemu_skipped']}" for n, row in r["models"].items() if "qemu_skipped" in row
    ]
    notes += [
        f"{n} on {core}: {row[f'{key}_error']}"
        for n, row in r["models"].items()
        for core, key in QEMU_CORES.items()
        if f"{key}_error" in row
    ]
    if notes:
        lines += ["", "Not run in QEMU: " + "; ".join(notes) + "."]
    lines += ["", *published_lines(r["models"])]
    return "\n".join(lines) + "\n"


def _cycles_cell(row: dict) -> str:
    if "m4_cycles" not in row:
        return "—"
    return f"{row['m4_cycles']:,} ({row['m4_cycles'] / row['macs']:.2f}/MAC)"


def published_lines(models: dict) -> list[str]:
    """Our MLPerf Tiny-shaped workloads beside the best published Cortex-M4 cycles (ST X-CUBE-AI
    9.0, MLPerf Tiny v1.2, NUCLEO-L4R5ZI at 120 MHz; shared/reference/performance-anchors.md)."""
    rows = [(n, *PUBLISHED[n]) for n in PUBLISHED if "m4_instructions" in models.get(n, {})]
    if not rows:
        return []
    out = [
        "Against the best published Cortex-M4 figures (ST X-CUBE-AI 9.0, MLPerf Tiny v1.2, "
        "NUCLEO-L4R5ZI at 120 MHz: latency x clock = cycles). Our instructions are a floor "
        "on our cycles (a Cortex-M4 instruction takes at least one cycle); the estimate is "
        "the instruction mix priced with the M4 TRM, not a measurement.",
        "",
        "| workload | ours: M4 instr (per MAC) | ours: M4 cycles, estimate (per MAC) "
        "| published cycles (per MAC) | instructions / published cycles |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, label, cycles in rows:
        m = models[name]
        est = f"{m['m4_cycles']:,} ({m['m4_cycles'] / m['macs']:.2f})" if "m4_cycles" in m else "—"
        out.append(
            f"| {label} | {m['m4_instructions']:,} ({m['m4_per_mac']:.2f}) | {est} "
            f"| {cycles:,} ({cycles / m['macs']:.2f}) "
            f"| {m['m4_instructions'] / cycles:.2f} |"
        )
    return out


def write(r: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "kernels.json").write_text(json.dumps(r, indent=1) + "\n")
    md = markdown(r)
    (out / "kernels.md").write_text(md)
    splice_section(out / "report.md", "kernels", md)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.bench.kernels", description=__doc__)
    p.add_argument("--out", default="bench/results", help="report directory (bench/results)")
    p.add_argument("--models", default=None, help="model cache directory (default: a temp dir)")
    p.add_argument("--family", default="fashion", help="the family whose variants are measured")
    p.add_argument("--repeats", type=int, default=7, help="host timing runs per engine (7)")
    a = p.parse_args(argv)
    models = Path(a.models or Path(tempfile.gettempdir()) / f"vp-kernels-{a.family}")
    models.mkdir(parents=True, exist_ok=True)
    macs = build_models(models, a.family)
    r = {
        "command": "python -m experiments.bench.kernels " + " ".join(argv or sys.argv[1:]),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{_cpu()}, {os.cpu_count()} cores",
        "repeats": a.repeats,
        "models": measure(models, macs, a.repeats),
    }
    write(r, Path(a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
