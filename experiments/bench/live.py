"""Sections 2, 4 and 5 through the live gateway: emulated boards, real frames, real deadlines.

Two deployments of emulated Linux boards (``vp-edge board serve`` on loopback UDP, LiteRT
reference kernels: ``kernels = "ref"``, what the offline outputs it compares with ran on): the
variant set, one board per variant, and the baseline alone on one board of the same kind.
Requests are paced at a fixed rate, one in flight. Per request the gateway's *added* latency is
its answer latency minus the slowest board's round trip (INFER sent to RESULT received), so it
holds quantizing, framing, waking up and voting. Then boards are killed one by one and the
accuracy with m boards alive is compared with the offline vote of the same boards on the same
images. Every board shares this machine's cores with the others, so the VP figures here are
pessimistic next to boards that really run in parallel.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from pathlib import Path

import numpy as np

from experiments.bench.context import BenchContext
from experiments.bench.faults import TapLinks, inject
from experiments.bench.figures import fig
from vp_edge.train import BASELINE

#: the emulated microcontroller: tflite-micro behind a pty throttled to this profile's baud
MCU_PROFILE = "cortex-m4"
MCU_RATE_HZ = 4.0  # a request moves ~1 kB over a 115200-baud UART: ~80 ms
MCU_IMAGES = 100
FAULT_DEADLINE_S = 0.3


def _port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _deployment(
    ctx: BenchContext,
    models: list[str],
    out: Path,
    rule: str,
    deadline_ms: float,
    kind: str = "linux",
):
    from vp_edge.deployment import deployment_toml, load_deployment

    out.mkdir(parents=True, exist_ok=True)
    (out / "deploy.key").write_text(secrets.token_hex(16) + "\n")
    top = {
        "run": str(ctx.run.resolve()),
        "key_file": "deploy.key",
        "k": ctx.k,
        "rule": rule,
        "deadline_ms": deadline_ms,
        "heartbeat_ms": 500,
    }
    boards = [
        {
            "id": i + 1,
            "name": f"b{i + 1}",
            "kind": kind,
            "link": f"udp://127.0.0.1:{_port()}" if kind == "linux" else f"pty://m{i + 1}",
            "variant": m,
            **({"profile": MCU_PROFILE} if kind == "mcu" else {"kernels": "ref"}),
        }
        for i, m in enumerate(models)
    ]
    path = out / "deploy.toml"
    path.write_text(deployment_toml(top, boards))
    return load_deployment(path, check_run=BASELINE not in models)


def _pct(values: list[float], how: str) -> dict:
    a = np.asarray(values, dtype=np.float64)
    if not len(a):
        return {"p50": None, "p99": None}
    return {
        "p50": fig(float(np.percentile(a, 50)), "measured", "s", how),
        "p99": fig(float(np.percentile(a, 99)), "measured", "s", how),
    }


async def _paced(gw, x: np.ndarray, y: np.ndarray, rate_hz: float) -> dict:
    """Requests at ``rate_hz`` (one in flight): answer latency, slowest RTT, added latency."""
    loop = asyncio.get_running_loop()
    lat, added, correct, answered = [], [], 0, 0
    t0 = loop.time()
    for i in range(len(x)):
        delay = t0 + i / rate_hz - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        before = {n: len(b.stats.latencies) for n, b in gw.boards.items()}
        a = await gw.classify(x[i], int(y[i]))
        rtts = [
            b.stats.latencies[-1]
            for n, b in gw.boards.items()
            if len(b.stats.latencies) > before[n]
        ]
        lat.append(a.latency_s)
        if rtts:
            added.append(a.latency_s - max(rtts))
        answered += a.winner is not None
        correct += a.winner == int(y[i])
    return {"latency": lat, "added": added, "correct": correct, "answered": answered}


async def _session(dep, x, y, rate_hz: float, kills=None, faults=None) -> dict:
    """Start a gateway, run the paced batch, then (optionally) fault injection and kills."""
    from vp_edge.gateway.core import Gateway, default_opener

    gw = Gateway(dep, opener=faults[0] if faults else default_opener)
    await gw.start(hello_timeout=20.0)
    try:
        down = [n for n, b in gw.boards.items() if not b.up]
        if down:
            raise RuntimeError(f"boards not up after 20 s: {down}")
        res = await _paced(gw, x, y, rate_hz)
        res["compute_us_p50"] = {n: r["compute_us_p50"] for n, r in gw.report()["boards"].items()}
        res["fault_injection"] = await faults[1](gw) if faults else None
        res["m_alive"] = await kills(gw) if kills else None
    finally:
        await gw.close()
    return res


def _kill_schedule(ctx: BenchContext, emu, x, y, per_m: int):
    """Kill boards one at a time (largest MACs first); accuracy live vs offline per m."""
    from vp_edge.evaluate import ensemble_accuracy

    order = sorted(emu.dep.boards, key=lambda b: -ctx.cards[b.variant]["macs"])
    w, C = ctx.family.weights(), ctx.family.num_classes
    sub_out = {v: o[:per_m] for v, o in ctx.outputs.items()}

    async def run(gw) -> list[dict]:
        rows = []
        for victim in order[:-1]:
            emu.kill(victim.name)
            alive = [b for b in emu.dep.boards if emu.alive().get(b.name)]
            live = await _paced(gw, x[:per_m], y[:per_m], 1e9)
            members = sorted(b.variant for b in alive)
            off = ensemble_accuracy(
                sub_out, ctx.cards, y[:per_m], members, ctx.k, "reference", w, C
            )
            how = f"{per_m} images, boards {', '.join(members)} alive"
            rows.append(
                {
                    "m": len(alive),
                    "alive": members,
                    "live_accuracy": fig(
                        live["correct"] / per_m, "measured", "", "through the gateway, " + how
                    ),
                    "offline_accuracy": fig(off, "measured", "", "offline vote, " + how),
                    "answered": fig(live["answered"] / per_m, "measured", "", how),
                }
            )
        return rows

    return run


def gateway_bench(
    ctx: BenchContext,
    out: Path,
    images: int,
    rate_hz: float,
    kill_images: int,
    deadline_ms: float = 2000.0,
    fault_images: int = 0,
    fault_grid: tuple[float, ...] = (),
    seed: int = 0,
) -> dict:
    """VP on N emulated boards vs the baseline alone on one; added latency; boards killed."""
    from boards.emulation import start_emulation

    n = min(images, len(ctx.test.y))
    x, y = ctx.test.x[:n], ctx.test.y[:n]
    result: dict = {
        "config": {
            "images": n,
            "rate_hz": rate_hz,
            "deadline_ms": deadline_ms,
            "kind": "linux",
            "link": "udp loopback",
            "k": ctx.k,
            "kill_images": kill_images,
        }
    }
    t0 = time.monotonic()
    dep = _deployment(ctx, ctx.variants, out / "vp", "reference", deadline_ms)
    with start_emulation(dep) as emu:
        kills = _kill_schedule(ctx, emu, ctx.test.x, ctx.test.y, min(kill_images, len(ctx.test.y)))
        drops = TapLinks(seed)
        nf = min(fault_images, len(ctx.test.y))
        faults = (
            (
                drops,
                lambda gw: inject(
                    gw, drops, ctx.test.x[:nf], ctx.test.y[:nf], fault_grid, FAULT_DEADLINE_S
                ),
            )
            if nf
            else None
        )
        vp = asyncio.run(_session(dep, x, y, rate_hz, kills, faults))
    how = f"{n} requests at {rate_hz:g}/s, {len(ctx.variants)} emulated linux boards"
    result["vp"] = _vp_figures(vp, n, how)
    result["m_alive"] = vp["m_alive"]
    result["fault_injection"] = vp["fault_injection"]
    if ctx.has_baseline:
        result.update(_baseline_bench(ctx, out, x, y, rate_hz, deadline_ms, result["vp"]))
    result["vp_mcu"] = _mcu(ctx, out, x, y, rate_hz, deadline_ms)
    result["wall_s"] = fig(time.monotonic() - t0, "measured", "s", "this section")
    return result


def _vp_figures(vp: dict, n: int, how: str) -> dict:
    """Latency, added latency, accuracy and board compute of the VP session."""
    return {
        "latency_s": _pct(vp["latency"], "gateway answer latency, " + how),
        "added_latency_s": _pct(vp["added"], "answer latency - slowest board round trip, " + how),
        "accuracy": fig(vp["correct"] / n, "measured", "", how),
        "board_compute_us_p50": {
            k: fig(v, "measured", "us", "RESULT.compute_us")
            for k, v in vp["compute_us_p50"].items()
        },
    }


def _baseline_bench(
    ctx: BenchContext,
    out: Path,
    x: np.ndarray,
    y: np.ndarray,
    rate_hz: float,
    deadline_ms: float,
    vp: dict,
) -> dict:
    """The baseline alone on one emulated board, same requests; its p50 against VP's."""
    from boards.emulation import start_emulation

    n = len(y)
    dep_b = _deployment(ctx, [BASELINE], out / "baseline", "sum", deadline_ms)
    with start_emulation(dep_b):
        base = asyncio.run(_session(dep_b, x, y, rate_hz))
    how_b = f"{n} requests at {rate_hz:g}/s, baseline alone on one emulated linux board"
    baseline = {
        "latency_s": _pct(base["latency"], "gateway answer latency, " + how_b),
        "accuracy": fig(base["correct"] / n, "measured", "", how_b),
    }
    vp50 = vp["latency_s"]["p50"]["value"]
    b50 = baseline["latency_s"]["p50"]["value"]
    ratio = fig(
        b50 / vp50, "measured", "x", "baseline p50 / VP p50, end to end through the gateway"
    )
    return {"baseline": baseline, "ratio_p50": ratio}


def _mcu(
    ctx: BenchContext, out: Path, x: np.ndarray, y: np.ndarray, rate_hz: float, deadline_ms: float
) -> dict:
    """The variant set on emulated MCU boards (tflite-micro, UART-throttled ptys)."""
    from boards.emulation import start_emulation
    from boards.profiles import get_profile

    prof = get_profile(MCU_PROFILE)
    x, y = x[:MCU_IMAGES], y[:MCU_IMAGES]
    try:
        dep = _deployment(ctx, ctx.variants, out / "vp-mcu", "reference", deadline_ms, "mcu")
        with start_emulation(dep):
            res = asyncio.run(_session(dep, x, y, min(rate_hz, MCU_RATE_HZ)))
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"[:400]}
    rate = min(rate_hz, MCU_RATE_HZ)
    how = (
        f"{len(x)} requests at {rate:g}/s, {len(ctx.variants)} emulated {MCU_PROFILE} "
        f"boards (tflite-micro on this host, pty throttled to {prof.baud} baud)"
    )
    return {
        "description": how,
        "latency_s": _pct(res["latency"], "gateway answer latency, " + how),
        "accuracy": fig(res["correct"] / len(x), "measured", "", how),
        "baseline": f"not run: the baseline does not fit {MCU_PROFILE}"
        if ctx.has_baseline and not _fits(ctx.cards[BASELINE], prof)
        else "not run",
    }


def _fits(card: dict, prof) -> bool:
    return card["arena_bytes"] <= prof.arena_limit and card["tflite_bytes"] <= prof.model_limit
