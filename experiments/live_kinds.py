"""Board kinds in the live demo: which optional kinds can run here, per-board RESULT checks,
per-kind latency and bytes, and the QEMU board's instruction counts and ELF sizes.

Kept apart from ``live.py`` (the demo's flow) because it is per-kind bookkeeping. Every board's
every RESULT is compared with the top-k its own runtime gives offline (LiteRT on the board's
kernels for linux: litert-xnnpack by default, litert-ref or litert-builtin as the deployment
says; tflite-micro for mcu; the C engine for pynq and qemu), not only the ones that won a vote.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from converters.rundir import RunDir
from vp_edge.deployment import BoardSpec, Deployment
from vp_edge.gateway.core import Answer, Gateway
from vp_edge.gateway.stats import percentiles_ms

#: the runtime that recomputes a kind's answers offline ("engine": firmware_bridge.engine);
#: a linux board's is LiteRT on its own kernels (``BoardSpec.runtime``: litert-<kernels>)
KIND_ENGINE = {"linux": "litert", "mcu": "tflm", "pynq": "engine", "qemu": "engine"}
OPTIONAL_KINDS = ("pynq", "qemu")
#: QEMU hands the UART over byte by byte in its main loop: on 2 busy cores next to 5 other
#: boards its p99 reached 350-450 ms and single answers passed 500 ms, so with a qemu board
#: the demo waits 1 s (a real Cortex-M4 would need ~250 ms: 68 ms of UART + ~180 ms compute).
#: A pynq board on the RTL fabric simulates the overlay cycle by cycle on the host: 0.1-0.3 s
#: an inference on an idle two-core machine, 0.4-0.6 s on a loaded one, so it waits 1 s too.
SLOW_DEADLINE_MS = 1000


def live_deadline_ms(extra: dict[str, str]) -> int:
    """The live demo's deadline for the optional kinds it runs (500 ms without slow ones)."""
    from boards.emulators import pynq_fabric

    slow = "qemu" in extra or ("pynq" in extra and pynq_fabric()[0] == "rtl")
    return SLOW_DEADLINE_MS if slow else 500


def board_engine(b: BoardSpec) -> str:
    """The engine (``vp_edge.workers.ENGINES`` name, or "engine") that recomputes ``b``'s
    answers offline: the board's own runtime, kernels included."""
    return b.runtime if KIND_ENGINE[b.kind] == "litert" else KIND_ENGINE[b.kind]


def offline_key(b: BoardSpec) -> tuple[str, str]:
    """Offline outputs are shared by boards that run the same variant on the same engine."""
    return board_engine(b), b.variant


class RecordingGateway(Gateway):
    """The live gateway, also keeping each board's pairs per request (for per-board checks)."""

    def __init__(self, dep: Deployment) -> None:
        super().__init__(dep)
        self.pairs: dict[int, dict[str, tuple]] = {}

    def _answer(self, index: int, req, latency: float, label: int | None) -> Answer:
        self.pairs[index] = {n: p for n, (p, _) in req.results.items()}
        return super()._answer(index, req, latency, label)


def optional_kinds(
    run: Path, variants: Sequence[str], kinds: Sequence[str] | None, qemu_profile: str = "cortex-m4"
) -> tuple[dict[str, str], dict[str, str]]:
    """({kind: variant} to add, {kind: why skipped}) for pynq and qemu, given what exists here."""
    from boards.emulators import firmware_misfit, firmware_target, pynq_missing, qemu_missing
    from converters.vpw_run import ensure_vpw

    wanted = OPTIONAL_KINDS if kinds is None else [k for k in OPTIONAL_KINDS if k in kinds]
    add: dict[str, str] = {}
    skipped = {k: "not requested" for k in OPTIONAL_KINDS if k not in wanted}
    if "pynq" in wanted:
        if why := pynq_missing():
            skipped["pynq"] = why
        else:
            add["pynq"] = variants[1 % len(variants)]
    if "qemu" in wanted:
        why = qemu_missing()
        if why is None:
            target = firmware_target(qemu_profile)
            misfit = {v: firmware_misfit(ensure_vpw(run, v).read_bytes(), target) for v in variants}
            fits = [v for v in variants if misfit[v] is None]
            if fits:
                add["qemu"] = fits[0]
            else:
                why = (
                    "no variant fits the firmware ("
                    + "; ".join(f"{v}: {m}" for v, m in misfit.items())
                    + ")"
                )
        if why:
            skipped["qemu"] = why
    return add, skipped


def engine_outputs(dep: Deployment, x: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
    """int8 outputs of the C engine (.vpw) for pynq and qemu boards: what their silicon runs."""
    from firmware_bridge.engine import Engine
    from vp_edge.evaluate import load_cards
    from vp_edge.preprocess import quantize
    from vp_edge.train import load_run_family

    cards = load_cards(dep.run, load_run_family(dep.run))
    out: dict[tuple[str, str], np.ndarray] = {}
    for b in dep.boards:
        if board_engine(b) != "engine" or offline_key(b) in out:
            continue
        c = cards[b.variant]
        e = Engine(RunDir(dep.run).vpw(b.variant).read_bytes())
        q = quantize(x, c["input_scale"], c["input_zero_point"])
        out[offline_key(b)] = np.stack([e.run(v.reshape(-1)).reshape(-1) for v in q])
    return out


def check_boards(
    dep: Deployment, pairs: dict[int, dict[str, tuple]], outputs: dict
) -> dict[str, dict]:
    """Per kind: RESULTs checked against each board's offline top-k on its own engine, how many
    differ, and the same split by engine (``engines``: e.g. litert-xnnpack and litert-ref)."""
    from boards.server import result_pairs

    specs = {b.name: b for b in dep.boards}
    out: dict[str, dict] = {
        b.kind: {"checked": 0, "differing": 0, "engines": {}} for b in dep.boards
    }
    for b in dep.boards:
        out[b.kind]["engines"].setdefault(board_engine(b), {"checked": 0, "differing": 0})
    for index, got in pairs.items():
        for name, p in got.items():
            s = specs[name]
            differ = tuple(p) != result_pairs(outputs[offline_key(s)][index], dep.k)
            for c in (out[s.kind], out[s.kind]["engines"][board_engine(s)]):
                c["checked"] += 1
                c["differing"] += differ
    return out


def kind_stats(gw: Gateway, n: int) -> dict[str, dict]:
    """Per kind: boards, RESULTs, latency p50/p99 over all its boards, bytes per inference."""
    by: dict[str, list] = {}
    for b in gw.boards.values():
        by.setdefault(b.spec.kind, []).append(b.stats)
    return {
        kind: {
            "boards": len(st),
            "results": sum(len(s.latencies) for s in st),
            "latency_ms": percentiles_ms([t for s in st for t in s.latencies]),
            "sent_per_inference": sum(s.bytes_sent for s in st) / max(n, 1),
            "received_per_inference": sum(s.bytes_received for s in st) / max(n, 1),
        }
        for kind, st in by.items()
    }


def compute_us(gw: Gateway) -> dict[str, list[int]]:
    """RESULT.compute_us of every qemu board (x 1000 = instructions under ``-icount shift=0``)
    and pynq board (on the RTL fabric: the overlay's simulated cycles at 100 MHz)."""
    kinds = ("qemu", "pynq")
    return {n: list(b.stats.compute_us) for n, b in gw.boards.items() if b.spec.kind in kinds}


def board_facts(dep: Deployment, ready: dict[str, dict], compute: dict[str, list[int]]) -> dict:
    """The qemu and pynq boards' own figures for the summary."""
    return {"qemu": qemu_facts(dep, ready, compute), "pynq": pynq_facts(dep, ready, compute)}


def pynq_facts(dep: Deployment, ready: dict[str, dict], compute: dict[str, list[int]]) -> dict:
    """Per pynq board: the fabric behind vp_top (``rtl``: the overlay's Verilated RTL, its
    compute time the simulated cycles at 100 MHz; ``engine``: the C engine, host time)."""
    out = {}
    for b in dep.boards:
        if b.kind == "pynq":
            us = compute.get(b.name, [])
            out[b.name] = {
                "variant": b.variant,
                "fabric": ready.get(b.name, {}).get("fabric", "engine"),
                "fabric_why": ready.get(b.name, {}).get("fabric_why", ""),
                "inferences": len(us),
                "compute_us_p50": float(np.median(us)) if us else None,
            }
    return out


def qemu_facts(dep: Deployment, ready: dict[str, dict], compute: dict[str, list[int]]) -> dict:
    """Per qemu board: instructions per inference, ELF flash/RAM vs the Cortex-M4, the load."""
    from boards.profiles import PROFILES
    from firmware_bridge.firmware.qemu import elf_size

    out = {}
    for b in dep.boards:
        if b.kind != "qemu":
            continue
        info = ready.get(b.name, {})
        us = np.asarray(compute.get(b.name, []), dtype=np.int64)
        ins = (
            {
                k: int(f(us)) * 1000
                for k, f in (("min", np.min), ("p50", np.median), ("max", np.max))
            }
            if us.size
            else None
        )
        p = PROFILES[b.profile]
        size = (
            elf_size(Path(info["elf"]), info.get("target", "mps2-an386"))
            if info.get("elf")
            else None
        )
        out[b.name] = {
            "variant": b.variant,
            "target": info.get("target"),
            "instructions": ins,
            "inferences": int(us.size),
            "elf": size,
            "profile": {"name": p.name, "ram_bytes": p.ram_bytes, "flash_bytes": p.flash_bytes},
            "vpw_bytes": RunDir(dep.run).vpw(b.variant).stat().st_size,
            "flash": info.get("flash"),
        }
    return out


def kinds_lines(summary: dict) -> list[str]:
    """Table lines: which kinds ran or were skipped, and the QEMU board's numbers."""
    k = summary["kinds"]
    lines = [
        "kinds: "
        + ", ".join(k["ran"])
        + (
            "; skipped " + "; ".join(f"{n}: {why}" for n, why in k["skipped"].items())
            if k["skipped"]
            else ""
        )
    ]
    for name, p in summary.get("pynq", {}).items():
        fabric = (
            "the overlay's Verilated RTL (fpga/), compute time = simulated cycles at 100 MHz"
            if p["fabric"] == "rtl"
            else f"the C engine (compute time is host time; {p.get('fabric_why') or 'asked'})"
        )
        us = f"; {p['compute_us_p50']:.0f} us per inference" if p["compute_us_p50"] else ""
        lines.append(f"pynq {name} ({p['variant']}): fabric {p['fabric']}: {fabric}{us}")
    for name, q in summary.get("qemu", {}).items():
        ins, elf, p, f = q["instructions"], q["elf"], q["profile"], q["flash"] or {}
        if ins:
            lines.append(
                f"qemu {name} ({q['variant']}): {ins['p50'] / 1e6:.2f} M instructions "
                f"per inference (-icount; min {ins['min'] / 1e6:.2f} M, max "
                f"{ins['max'] / 1e6:.2f} M, {q['inferences']} inferences)"
            )
        if elf:
            lines.append(
                f"   firmware ELF: flash {elf['flash']:,} B (text+data) of "
                f"{elf['flash_budget'] // 1024} KB firmware region, "
                f"{p['flash_bytes'] // 1024} KB part; static RAM {elf['ram']:,} B "
                f"(data+bss) of {p['ram_bytes'] // 1024} KB SRAM"
            )
        load = (
            "already on the board"
            if "skipped" in f
            else f"flashed in {f.get('seconds', 0):.1f} s, "
            + ("verified" if f.get("verified") else "NOT verified")
        )
        slot = f"{elf['model_slot'] // 1024} KB" if elf else "a"
        lines.append(f"   model .vpw {q['vpw_bytes']:,} B in a {slot} slot ({load})")
    return lines


def run_kind_lines(r: dict) -> list[str]:
    """Per-kind rows of one run: latency, bytes, RESULTs checked against the board's runtime."""
    lines = []
    for kind, s in r["kinds"].items():
        lat = s["latency_ms"]
        chk = r["board_checks"].get(kind, {"checked": 0, "differing": 0, "engines": {}})
        engines = "+".join(chk["engines"]) or KIND_ENGINE[kind]
        lines.append(
            f"   kind {kind:<6} boards {s['boards']} results {s['results']:>5}  p50 "
            f"{lat['p50']} ms p99 {lat['p99']} ms  sent {s['sent_per_inference']:.0f} "
            f"B/inf recv {s['received_per_inference']:.0f} B/inf  RESULTs vs "
            f"{engines}: {chk['checked']} checked, {chk['differing']} differ"
        )
    return lines
