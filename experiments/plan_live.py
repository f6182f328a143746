"""A family served live on emulated boards of a fleet, through the gateway, at each board's speed.

The fleet's boards are emulated as ``vp-edge emulate`` does, one process per board: a
microcontroller is the ``vp-edge board serve`` daemon (tflite-micro) behind a pseudo-terminal
throttled to its profile's baud rate, a Linux board the same daemon on a loopback UDP port, the
PYNQ board the PYNQ daemon on the simulated PYNQ-Z2. Emulators compute at this host's speed, not
the board's: so the gateway's end of each link holds every reply back by the board's measured
compute less the emulator's (``measured_compute``: instructions counted
in QEMU on the profile's firmware target / its clock for microcontrollers, this host's median
time x the profile's factor otherwise; the emulator's own runtime timed on this host), and a
board on UDP also by what its daemon's own work per request would cost on the board's CPU beyond
this host's (``vp_edge.plan.overhead``: the measured board part x (factor - 1)). The link, the
framing, the gateway and the vote are the real ones. Emulated PYNQ boards compute on the C
engine (``VP_PYNQ_FABRIC=engine`` unless set), the runtime their cost model is measured on.

Used by ``experiments.plan_check --live`` (predicted end to end against the live per-board p50)
and ``experiments.plan_versus`` (a planned family against a uniform preset, same fleet).
"""

from __future__ import annotations

import asyncio
import queue
import secrets
import socket
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: emulated kind of each planned kind: a QEMU board's UART is not throttled, the daemon's pty is
EMULATED_KIND = {"qemu": "mcu", "mcu": "mcu", "linux": "linux", "pynq": "pynq"}
#: emulator kind -> the runtime it computes with on this host (vp_edge.benchmark's names)
EMULATOR_RUNTIME = {"mcu": "tflm", "linux": "xnnpack", "pynq": "engine"}
#: the profile an emulated microcontroller takes when its .tflite (what tflite-micro runs) does
#: not fit its own profile's slot, as the STM32F405's 384 KB does not: same UART rate, more flash
#: (the firmware runs the smaller .vpw, which ``plan_check`` checks against the board's own)
ROOMY_MCU = "cortex-m4"


#: firmware target -> the bench's QEMU core name that boots it
QEMU_CORE = {
    "mps2-an386": "cortex-m4",
    "mps2-an500": "cortex-m7",
    "mps2-an505": "cortex-m33",
    "stm32f405": "stm32f405",
}


def measured_compute(tflite: bytes, profile: Any) -> dict:
    """One inference's compute on a board of ``profile``, measured: instructions counted in QEMU
    on the profile's firmware target / its clock (CPI 1) for microcontrollers, this host's
    median milliseconds of the board's runtime x the profile's HOST_FACTORS entry otherwise.
    {"compute_ms", "instructions" or "host_ms"}."""
    from experiments.bench.mcu import tflite_core_counts
    from vp_edge.benchmark import benchmark
    from vp_edge.plan.costs import HOST_FACTORS

    if profile.firmware_target:
        core = QEMU_CORE[profile.firmware_target]
        c = tflite_core_counts(tflite, cores=(core,))
        n = c.get("cores", {}).get(core, {}).get("value")
        return {"instructions": n, "compute_ms": n / profile.clock_hz * 1e3 if n else None}
    quantity, factor = HOST_FACTORS[profile.name]
    rt = {"xnnpack_ms": "xnnpack", "engine_ms": "engine"}[quantity]
    b = benchmark("tflite", tflite, runs=50, runtimes=(rt,), qemu=False)
    ms = b["runtimes"][rt].get("median_ms")
    return {"host_ms": ms, "compute_ms": ms * factor if ms else None}


class HeldLink:
    """A gateway-side link whose received bytes are handed over ``hold_s`` after they arrived
    (a reader thread stamps them), so a board answers as late as its own compute would make it."""

    def __init__(self, inner: Any, hold_s: float) -> None:
        self.inner, self.hold_s = inner, hold_s
        self._q: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        threading.Thread(target=self._pump, daemon=True, name="held-link").start()

    def __getattr__(self, name: str) -> Any:  # url, framing, send, byte counters...
        return getattr(self.inner, name)

    def _pump(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.inner.recv(0.05)
            except Exception as e:  # the link's own error, raised to the gateway's reader
                self._q.put((0.0, e))
                return
            if data:
                self._q.put((time.monotonic() + self.hold_s, data))

    def recv(self, timeout: float) -> bytes:
        try:
            release, data = self._q.get(timeout=timeout)
        except queue.Empty:
            return b""
        if isinstance(data, Exception):
            raise data
        time.sleep(max(0.0, release - time.monotonic()))
        return data

    def close(self) -> None:
        self._stop.set()
        self.inner.close()


def _port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def emulated_deployment(
    planned: Path,
    run: Path,
    out: Path,
    variants: dict[str, str] | None = None,
    deadline_ms: float | None = None,
) -> tuple[Any, dict[str, str]]:
    """(deployment, board -> planned profile): the planned deployment's boards as emulated
    boards of ``EMULATED_KIND`` serving ``run``, with free loopback ports; ``variants`` (board ->
    variant) puts another family's members on the same boards; ``deadline_ms`` overrides the
    plan's."""
    from vp_edge.deployment import deployment_toml, load_deployment

    dep = tomllib.loads(planned.read_text())
    out.mkdir(parents=True, exist_ok=True)
    (out / "deploy.key").write_text(secrets.token_hex(16) + "\n")
    top = {
        "run": str(run.resolve()),
        "key_file": "deploy.key",
        "k": dep.get("k", 2),
        "deadline_ms": deadline_ms or dep.get("deadline_ms", 100),
        "heartbeat_ms": 500,
    }
    boards, profiles = [], {}
    for b in dep["boards"]:
        kind = EMULATED_KIND[b["kind"]]
        link = f"pty://{b['name']}" if kind == "mcu" else f"udp://127.0.0.1:{_port()}"
        variant = (variants or {}).get(b["name"], b["variant"])
        profiles[b["name"]] = b["profile"]
        profile = _emulator_profile(kind, b["profile"], run, variant)
        boards.append({**b, "kind": kind, "link": link, "variant": variant, "profile": profile})
    path = out / "deploy.toml"
    path.write_text(deployment_toml(top, boards))
    return load_deployment(path), profiles


def _emulator_profile(kind: str, profile: str, run: Path, variant: str) -> str:
    """``profile``, or ``ROOMY_MCU`` (same baud) for a microcontroller whose .tflite does not
    fit it."""
    from boards.profiles import get_profile
    from converters.rundir import RunDir

    p, roomy = get_profile(profile), get_profile(ROOMY_MCU)
    size = RunDir(run).model(variant).stat().st_size
    if kind != "mcu" or size <= p.model_limit:
        return profile
    if roomy.baud != p.baud:
        raise RuntimeError(f"no emulator profile for {profile}: {variant} needs {size:,} B")
    return ROOMY_MCU


def board_holds(
    dep: Any, profiles: dict[str, str], known: dict[str, dict] | None = None
) -> dict[str, dict]:
    """board -> {"compute_ms": the board's measured compute on its planned profile
    (``profiles``), "emulator_ms": this host's time of the emulator's runtime, "hold_s": what
    the gateway holds its replies back by}; one measurement per (variant, profile). ``known``
    (board -> {"variant", "compute_ms", ...}, e.g. ``plan_check``'s rows of the same shapes)
    spares the QEMU counts already taken: they depend on the shapes, not on the weights."""
    from boards.profiles import get_profile
    from converters.rundir import RunDir
    from vp_edge.benchmark import benchmark

    seen: dict[tuple[str, str, str], dict] = {}
    out = {}
    for b in dep.boards:
        key = (b.variant, profiles[b.name], b.kind)
        if key not in seen:
            tfl = RunDir(dep.run).model(b.variant).read_bytes()
            k = (known or {}).get(b.name, {})
            if k.get("variant") == b.variant and k.get("compute_ms"):
                m = {q: v for q, v in k.items() if q in ("compute_ms", "instructions", "host_ms")}
            else:
                m = measured_compute(tfl, get_profile(profiles[b.name]))
            rt = EMULATOR_RUNTIME[b.kind]
            host = benchmark("tflite", tfl, runs=50, runtimes=(rt,), qemu=False)
            emu_ms = host["runtimes"][rt].get("median_ms") or 0.0
            extra = overhead_hold_ms(b.link, profiles[b.name])
            hold = (max(0.0, (m["compute_ms"] or 0.0) - emu_ms) + extra) / 1e3
            seen[key] = {**m, "emulator_ms": emu_ms, "overhead_hold_ms": extra, "hold_s": hold}
        out[b.name] = seen[key]
    return out


def overhead_hold_ms(link: str, profile: str) -> float:
    """What the emulated daemon of a UDP board lacks of the real board's per-request work: the
    measured board part of ``udp_overhead`` x (the profile's factor - 1); 0 on other links or
    where costs.json has none."""
    from vp_edge.plan.costs import host_factor, load_costs

    udp = load_costs().udp
    if not link.startswith("udp://") or udp is None:
        return 0.0
    return udp.hold_ms(host_factor(profile))


@dataclass
class LiveResult:
    """What one live session measured."""

    images: int
    correct: int = 0
    complete: int = 0  # answers every board voted in within the deadline
    hits: list[int] = field(default_factory=list)  # 1 where the answer to image i was right
    latency_s: list[float] = field(default_factory=list)
    board_latency_s: dict[str, list[float]] = field(default_factory=dict)
    board_in_time: dict[str, int] = field(default_factory=dict)
    board_compute_us: dict[str, float | None] = field(default_factory=dict)


async def _session(
    dep: Any, holds: dict[str, float] | None, x: np.ndarray, y: np.ndarray, rate_hz: float
) -> LiveResult:
    """A gateway whose links hold replies by ``holds`` (None: the gateway's own links, as in
    production); ``len(x)`` requests at ``rate_hz``, one in flight."""
    from vp_edge.gateway.core import Gateway, default_opener

    def opener(spec: Any, pty_dir: Any) -> Any:  # a HeldLink: a Link by duck typing
        return HeldLink(default_opener(spec, pty_dir), (holds or {}).get(spec.name, 0.0))

    gw = Gateway(dep, opener=default_opener if holds is None else opener)
    await gw.start(hello_timeout=30.0)
    res = LiveResult(len(x))
    try:
        if down := [n for n, b in gw.boards.items() if not b.up]:
            raise RuntimeError(f"boards not up after 30 s: {down}")
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for i in range(len(x)):
            await asyncio.sleep(max(0.0, t0 + i / rate_hz - loop.time()))
            a = await gw.classify(x[i], int(y[i]))
            res.latency_s.append(a.latency_s)
            res.correct += a.winner == int(y[i])
            res.hits.append(int(a.winner == int(y[i])))
            res.complete += not a.missing
            for n in a.answered:
                res.board_in_time[n] = res.board_in_time.get(n, 0) + 1
        for n, b in gw.boards.items():
            res.board_latency_s[n] = list(b.stats.latencies)
        rep = gw.report()["boards"]
        res.board_compute_us = {n: r.get("compute_us_p50") for n, r in rep.items()}
    finally:
        await gw.close()
    return res


def run_live(dep: Any, holds: dict[str, dict] | None, images: int, rate_hz: float) -> LiveResult:
    """Start the emulated boards of ``dep``, serve ``images`` test images of its run through
    the gateway (replies held by ``holds``; None: not held), stop the boards."""
    import os

    from boards.emulation import start_emulation
    from converters.rundir import RunDir
    from vp_edge.convert import load_run_data
    from vp_edge.family import load_family

    test = load_run_data(dep.run, load_family(RunDir(dep.run).family)).test
    n = min(images, len(test.y))
    held = None if holds is None else {k: h["hold_s"] for k, h in holds.items()}
    os.environ.setdefault("VP_PYNQ_FABRIC", "engine")  # what the PYNQ cost model measures
    with start_emulation(dep, timeout=180.0):
        return asyncio.run(_session(dep, held, test.x[:n], test.y[:n], rate_hz))


def p50_ms(values: list[float]) -> float | None:
    return float(np.percentile(values, 50)) * 1e3 if values else None
