"""The live demo: emulated boards, the gateway over the test set, boards killed mid-run, and
the proof that live answers equal offline ones.

``run_live_demo(run, images, out, show) -> dict`` writes ``out/deploy.toml`` (>= 2 linux boards
over loopback UDP, >= 2 mcu boards behind ptys, plus a pynq board on a simulated PYNQ-Z2 and a
qemu board, the Cortex-M4 firmware in QEMU loaded with ``vp-edge flash``, when their
prerequisites exist), starts the emulation, runs the gateway over the first ``images`` test
images with every board alive, then again killing one linux, one mcu and the qemu board
halfway. Each live answer is recomputed offline from the same boards' answers run on the same
runtime (LiteRT on the board's kernels for linux, XNNPACK unless ``linux_kernels`` says otherwise;
tflite-micro for mcu; the C engine for pynq and qemu) with
the same rule and k (``gateway.vote_boards``), and every board's every RESULT is compared with
its runtime's top-k; both differing counts must be 0. ``live_table(summary)`` renders it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from converters.rundir import RunDir
from experiments.live_deploy import write_live_deployment
from experiments.live_kinds import (
    KIND_ENGINE,
    RecordingGateway,
    board_facts,
    check_boards,
    compute_us,
    engine_outputs,
    kind_stats,
    kinds_lines,
    live_deadline_ms,
    offline_key,
    optional_kinds,
    run_kind_lines,
)
from experiments.live_wire import wire_sizes
from vp_edge.deployment import Deployment, load_deployment
from vp_edge.gateway.core import Answer, Gateway, vote_boards


async def _gateway_run(
    dep: Deployment,
    x: np.ndarray,
    y: np.ndarray,
    show: bool,
    on_request: Callable[[int], None] | None,
) -> tuple[dict, list[Answer], dict]:
    """One pass of the gateway; also each board's pairs, per-kind stats and compute times."""
    from vp_edge.gateway.batch import run_batch_async

    gw = RecordingGateway(dep)
    await gw.start(hello_timeout=10.0)
    try:
        answers = await run_batch_async(gw, x, y, 1, show, on_request)
    finally:
        await gw.close()
    extra = {"pairs": gw.pairs, "kinds": kind_stats(gw, len(x)), "compute_us": compute_us(gw)}
    return gw.report(), answers, extra


def offline_outputs(
    dep: Deployment, x: np.ndarray, show: bool
) -> dict[tuple[str, str], np.ndarray]:
    """int8 outputs per ``offline_key`` (engine, variant): each board's own runtime (a linux
    board's LiteRT on its kernels), for the same quantized inputs."""
    from vp_edge.evaluate import load_cards
    from vp_edge.preprocess import quantize
    from vp_edge.train import load_run_family
    from vp_edge.workers import run_models

    cards = load_cards(dep.run, load_run_family(dep.run))
    out: dict[tuple[str, str], np.ndarray] = {}
    keys = {offline_key(b) for b in dep.boards}
    for engine in sorted({e for e, _ in keys if e != "engine"}):
        jobs = [
            (
                v,
                RunDir(dep.run).model(v),
                quantize(x, cards[v]["input_scale"], cards[v]["input_zero_point"]),
            )
            for v in sorted(v for e, v in keys if e == engine)
        ]
        res = run_models(jobs, engine, label=f"offline {engine}", show=show)
        out.update({(engine, v): q for v, q in res.items()})
    return {**out, **engine_outputs(dep, x)}


def compare_offline(
    gw_cards: dict,
    dep: Deployment,
    num_classes: int,
    weights: dict | None,
    answers: list[Answer],
    outputs: dict,
) -> dict:
    """Recompute every live answer offline from the same boards; count differences."""
    from boards.server import result_pairs

    specs = {b.name: b for b in dep.boards}
    differ, correct, labelled = 0, 0, 0
    for a in answers:
        if a.answered:
            res = {
                n: (
                    specs[n].id,
                    specs[n].variant,
                    result_pairs(outputs[offline_key(specs[n])][a.index], dep.k),
                )
                for n in a.answered
            }
            winner = vote_boards(res, gw_cards, num_classes, dep.rule, weights)[0].winner
        else:
            winner = None
        differ += winner != a.winner
        if a.label is not None:
            labelled += 1
            correct += winner == a.label
    return {"offline_accuracy": correct / labelled if labelled else None, "differing": differ}


def _run_summary(report: dict, offline: dict, n: int, extra: dict, checks: dict) -> dict:
    boards = {
        name: {
            "kind": r["kind"],
            "variant": r["variant"],
            "results": r["results"],
            "misses": r["misses"],
            "latency_ms": r["latency_ms"],
            "sent_per_inference": r["bytes_sent"] / n,
            "received_per_inference": r["bytes_received"] / n,
            "drops": r["drops"],
        }
        for name, r in report["boards"].items()
    }
    return {
        "live_accuracy": report["accuracy"],
        **offline,
        "requests": report["requests"],
        "errors": report["errors"],
        "degraded": report["degraded"],
        "latency_ms": report["latency_ms"],
        "bytes_per_inference": report["bytes_per_inference"],
        "boards": boards,
        "gateway_drops": report["gateway_drops"],
        "kinds": extra["kinds"],
        "board_checks": checks,
    }


def run_live_demo(
    run: Path,
    images: int,
    out: Path,
    show: bool,
    *,
    kinds: Sequence[str] | None = None,
    qemu_profile: str = "cortex-m4",
    linux_kernels: Sequence[str] = ("xnnpack",),
) -> dict:
    """Deploy, emulate, vote live (all alive, then boards killed halfway), compare offline.

    ``kinds`` limits the optional kinds (pynq, qemu); by default each runs when it can here.
    ``qemu_profile`` picks the qemu board's firmware target (``stm32f405``: the STM32F4 firmware
    in netduinoplus2; default the Cortex-M4 mps2-an386). ``linux_kernels``: the LiteRT kernels
    linux boards take in turn (default all XNNPACK, what a linux board serves with).
    """
    from vp_edge.convert import load_run_data
    from vp_edge.train import load_run_family

    variants = [v.name for v in load_run_family(Path(run)).variants]
    extra, skipped = optional_kinds(Path(run), variants, kinds, qemu_profile)
    deadline = live_deadline_ms(extra)
    dep = load_deployment(
        write_live_deployment(
            Path(run),
            Path(out),
            deadline,
            extra=extra,
            qemu_profile=qemu_profile,
            linux_kernels=linux_kernels,
        )
    )
    gw_probe = Gateway(dep)  # cards, weights and classes exactly as the live gateway has them
    data = load_run_data(dep.run, gw_probe.family).test.subset(images)
    x, y = data.x, data.y
    victims = [
        next(b.name for b in dep.boards if b.kind == kind)
        for kind in ("linux", "mcu", "qemu")
        if any(b.kind == kind for b in dep.boards)
    ]
    runs, ready = _live_runs(dep, x, y, show, victims)
    outputs = offline_outputs(dep, x, show)
    summary = _summary(dep, len(x), victims, skipped)
    for name, (report, answers, more) in runs.items():
        cmp = compare_offline(
            gw_probe.cards, dep, gw_probe.num_classes, gw_probe.weights, answers, outputs
        )
        checks = check_boards(dep, more["pairs"], outputs)
        summary["runs"][name] = _run_summary(report, cmp, len(x), more, checks)
    summary.update(board_facts(dep, ready, runs["all_alive"][2]["compute_us"]))
    summary.update(wire_sizes(dep))
    summary["equal"] = all(
        r["differing"] == 0 and all(c["differing"] == 0 for c in r["board_checks"].values())
        for r in summary["runs"].values()
    )
    return summary


def _live_runs(
    dep: Deployment, x: np.ndarray, y: np.ndarray, show: bool, victims: list[str]
) -> tuple[dict[str, tuple], dict[str, dict]]:
    """Emulate the boards; run the gateway with all alive, then killing ``victims`` halfway.
    Returns the two runs and each board's ready info."""
    import json

    from boards.emulation import ready_path, start_emulation

    runs: dict[str, tuple] = {}
    with start_emulation(dep, timeout=180.0) as emu:
        ready = {b.name: json.loads(ready_path(dep, b).read_text()) for b in dep.boards}
        runs["all_alive"] = asyncio.run(_gateway_run(dep, x, y, show, None))

        def kill(i: int) -> None:
            if i == len(x) // 2:
                for name in victims:
                    emu.kill(name)

        runs["killed"] = asyncio.run(_gateway_run(dep, x, y, show, kill))
    return runs, ready


def _summary(dep: Deployment, n: int, victims: list[str], skipped: dict[str, str]) -> dict:
    """The live summary's head: the deployment, what was killed when, which kinds ran."""
    return {
        "run": str(dep.run),
        "images": n,
        "deployment": str(dep.path),
        "deadline_ms": dep.deadline_s * 1000,
        "k": dep.k,
        "rule": dep.rule,
        "boards": [vars(b) for b in dep.boards],
        "killed": victims,
        "kill_at": n // 2,
        "runs": {},
        "kinds": {
            "ran": [k for k in KIND_ENGINE if any(b.kind == k for b in dep.boards)],
            "skipped": skipped,
        },
    }


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def live_table(summary: dict) -> str:
    """The live demo for people: accuracy live vs offline, latency, bytes, wire sizes."""
    lines = [
        f"live voting: {summary['images']} test images, k={summary['k']}, rule "
        f"{summary['rule']}, deadline {summary['deadline_ms']:.0f} ms, boards "
        + ", ".join(
            f"{b['name']}({b['kind']},{b['variant']}"
            + (f",{b['kernels']}" if b.get("kernels") else "")
            + ")"
            for b in summary["boards"]
        )
    ]
    for name, r in summary["runs"].items():
        what = (
            "all boards alive"
            if name == "all_alive"
            else f"{' and '.join(summary['killed'])} killed at request {summary['kill_at']}"
        )
        lat, bpi = r["latency_ms"], r["bytes_per_inference"]
        lines += [
            f"-- {what}",
            f"   accuracy live {_pct(r['live_accuracy'])} / offline same boards "
            f"{_pct(r['offline_accuracy'])}, differing answers {r['differing']}; "
            f"degraded {r['degraded']}, errors {r['errors']}",
            f"   latency p50 {lat['p50']} ms, p99 {lat['p99']} ms; bytes per inference "
            f"sent {bpi['sent']:.0f}, received {bpi['received']:.0f}",
        ]
        lines += run_kind_lines(r)
        for b, s in r["boards"].items():
            bl = s["latency_ms"]
            lines.append(
                f"   {b:<6} {s['kind']:<6} {s['variant']:<8} results {s['results']:>5} "
                f"misses {s['misses']:>4}  p50 {bl['p50']} ms p99 {bl['p99']} ms  "
                f"sent {s['sent_per_inference']:.0f} B/inf, "
                f"recv {s['received_per_inference']:.0f} B/inf"
            )
    lines += kinds_lines(summary)
    rf = summary["result_frame_bytes"]
    lines.append(
        "RESULT frame (UDP/serial bytes): "
        + ", ".join(f"k={k} {v['udp']}/{v['serial']}" for k, v in rf.items())
    )
    for v, c in summary["model_parallel"].items():
        lines.append(
            f"model parallelism for {v}: smallest cut {c['shape']} = "
            f"{c['activation_bytes']} B int8, {c['frame_bytes']} B in {c['frames']} "
            f"frame(s) vs {rf['5']['udp']} B for a k=5 RESULT"
        )
    lines.append("live == offline: " + ("yes" if summary["equal"] else "NO"))
    return "\n".join(lines)
