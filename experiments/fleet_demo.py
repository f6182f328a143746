"""``vp-edge demo --fleet``: one broker, gateways as processes, 16 emulated boards, rising load.

Phases, all on this machine (loopback, one Mosquitto with authentication on):

1. **equal**: one gateway over every board (15 linux boards on MQTT, one microcontroller on a
   throttled pty behind ``vp-edge bridge``) classifies test images; each answer is recomputed
   offline from the same boards' runtimes and must be identical.
2. **scale**: 1 gateway over all boards, then 3 gateways each owning a third of them, at rising
   rates: sent, answered, busy, lost (must be 0), p50/p99, and where the CPU went (gateways,
   boards, broker, clients, other jobs, idle).
3. **faults**: 3 gateways under load; one gateway SIGKILLed, one board killed, the broker
   restarted, each at its moment; every request must still be answered once.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from experiments.cpu_meter import CpuMeter, cpu_s
from vp_edge.deployment import Deployment, deployment_toml, load_deployment


def write_fleet(
    run: Path, out: Path, url: str, boards: int, deadline_ms: float
) -> tuple[Path, Path]:
    """Two views of one fleet: ``site.toml`` (how boards are emulated: the mcu on a pty) and
    ``fleet.toml`` (what gateways see: every board on the broker)."""
    from vp_edge.train import load_run_family

    variants = [v.name for v in load_run_family(run).variants]
    specs = []
    for i in range(boards):
        mcu = i == boards - 1
        specs.append(
            {
                "id": i + 1,
                "name": f"mcu{i + 1}" if mcu else f"pi{i + 1}",
                "kind": "mcu" if mcu else "linux",
                "variant": variants[i % len(variants)],
                "link": url,
                "profile": "esp32-s3" if mcu else "raspberry-pi-4",
            }
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "deploy.key").write_text(secrets.token_hex(16) + "\n")
    top = {
        "run": str(run.resolve()),
        "key_file": "deploy.key",
        "k": 2,
        "rule": "reference",
        "deadline_ms": deadline_ms,
        "heartbeat_ms": 1000,
    }
    site = [{**b, "link": "pty://" + b["name"]} if b["kind"] == "mcu" else b for b in specs]
    (out / "site.toml").write_text(deployment_toml({**top, "state_dir": ".state"}, site))
    (out / "fleet.toml").write_text(deployment_toml({**top, "state_dir": ".state"}, specs))
    return out / "site.toml", out / "fleet.toml"


def equal_phase(dep: Deployment, images: int, show: bool) -> dict:
    """One in-process gateway over every board; live answers against offline recomputation."""
    from experiments.live import compare_offline, offline_outputs
    from vp_edge.convert import load_run_data
    from vp_edge.gateway.core import Gateway, run_inputs

    async def live() -> tuple[Gateway, list]:
        gw = Gateway(dep)
        await gw.start(hello_timeout=20.0)
        try:
            return gw, await run_inputs(gw, x, y, 1)
        finally:
            await gw.close()

    probe = Gateway(dep)
    data = load_run_data(dep.run, probe.family).test.subset(images)
    x, y = data.x, data.y
    gw, answers = asyncio.run(live())
    cmp = compare_offline(
        probe.cards, dep, probe.num_classes, probe.weights, answers, offline_outputs(dep, x, show)
    )
    rep = gw.report()
    return {
        "images": len(x),
        "answered": rep["answered"],
        "degraded": rep["degraded"],
        "live_accuracy": rep["accuracy"],
        **cmp,
        "equal": cmp["differing"] == 0,
        "mcu_results": sum(r["results"] for r in rep["boards"].values() if r["kind"] == "mcu"),
        "latency_ms": rep["latency_ms"],
    }


class Gateways:
    """Gateway processes, each with its share of the boards."""

    def __init__(
        self,
        dep: Deployment,
        url: str,
        shards: list[list[str]],
        out: Path,
        metrics_port: int | None = None,
    ) -> None:
        self.procs: dict[str, subprocess.Popen] = {}
        out.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        for i, shard in enumerate(shards):
            name = f"g{i + 1}"
            argv = [
                sys.executable,
                "-m",
                "vp_edge",
                "gateway",
                "--deployment",
                str(dep.path),
                "--listen",
                url,
                "--boards",
                ",".join(shard),
                "--name",
                name,
                "--no-progress",
                "--json",
                str(out / f"{name}.json"),
            ]
            if metrics_port and i == 0:
                argv += ["--metrics", f"127.0.0.1:{metrics_port}"]
            log = open(out / f"{name}.log", "w")
            self.procs[name] = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
            log.close()
        end = time.monotonic() + 120
        for name in self.procs:
            while "serving" not in (out / f"{name}.log").read_text():
                if self.procs[name].poll() is not None or time.monotonic() > end:
                    raise RuntimeError(f"gateway {name} did not start: see {out}/{name}.log")
                time.sleep(0.2)

    def cpu(self) -> float:
        return sum(cpu_s(p.pid) for p in self.procs.values())

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in self.procs.values():
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def shards(dep: Deployment, n: int) -> list[list[str]]:
    """``n`` disjoint board sets, each holding every variant where the boards allow."""
    names = [b.name for b in dep.boards]
    return [names[i::n] for i in range(n)]


def load_rows(
    url: str,
    pngs: list[bytes],
    rates: Sequence[float],
    seconds: float,
    gws: Gateways,
    broker_pid: int | None,
    board_pids: Sequence[int] = (),
) -> list[dict]:
    """One row per rate; ``cpu_pct`` says where the machine's CPU went meanwhile (gateways,
    boards, broker, this process's clients and bridge, other jobs, idle), so a row that misses
    its bound shows whether the cores were full and who had them."""
    from vp_edge.gateway.loadtest import run_rate_mqtt

    meter = CpuMeter({
        "gateways": gws.cpu,
        "boards": lambda: sum(cpu_s(p) for p in board_pids),
        "broker": lambda: cpu_s(broker_pid),
        "clients": lambda: cpu_s(os.getpid()),
    })  # fmt: skip
    rows = []
    for r in rates:
        meter.start()
        tag = f"r{r:g}-{time.time():.0f}"
        row = run_rate_mqtt(url, pngs, r, max(1, int(r * seconds)), 3.0, tag)
        row["cpu_pct"] = meter.shares()
        row["loadavg_1min"] = round(os.getloadavg()[0], 2)
        rows.append(row)
    return rows


def test_pngs(dep: Deployment, n: int = 32) -> list[bytes]:
    import io

    from PIL import Image

    from vp_edge.convert import load_run_data
    from vp_edge.train import load_run_family

    x = load_run_data(dep.run, load_run_family(dep.run)).test.subset(n).x
    out = []
    for img in x:
        buf = io.BytesIO()
        Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(buf, format="PNG")
        out.append(buf.getvalue())
    return out


def fault_phase(
    url: str,
    pngs: list[bytes],
    gws: Gateways,
    emu: object,
    broker: object,
    rate: float,
    seconds: float,
    victim_board: str,
) -> dict:
    """Load while a gateway is SIGKILLed, a board killed and the broker restarted."""
    from vp_edge.gateway.loadtest import run_rate_mqtt

    n = max(30, int(rate * seconds))
    events: list[str] = []

    def on_sent(i: int) -> None:
        if i == n // 4:
            gws.kill("g1")
            events.append(f"request {i}: gateway g1 SIGKILLed")
        elif i == n // 2:
            emu.kill(victim_board)  # type: ignore[attr-defined]
            events.append(f"request {i}: board {victim_board} killed")
        elif i == 3 * n // 4:
            threading.Thread(target=broker.restart, args=(1.0,)).start()  # type: ignore[attr-defined]
            events.append(f"request {i}: broker restarted (1 s down)")

    row = run_rate_mqtt(
        url, pngs, rate, n, 8.0, f"faults-{time.time():.0f}", retry_s=1.0, on_sent=on_sent
    )
    return {**row, "events": events}


def run_fleet_demo(
    run: Path,
    out: Path,
    *,
    boards: int = 16,
    rates: Sequence[float] = (10, 25, 50, 100),
    seconds: float = 4.0,
    images: int = 100,
    deadline_ms: float = 500,
    show: bool = True,
) -> dict:
    from boards.bridge import bridge
    from boards.emulation import start_emulation
    from vp_edge.gateway.broker import Broker

    out = Path(out).resolve()
    broker = Broker(out / "broker").start()
    url = broker.url("fleet")
    site_path, fleet_path = write_fleet(Path(run), out, url, boards, deadline_ms)
    site, dep = load_deployment(site_path), load_deployment(fleet_path)
    mcu = next(b for b in site.boards if b.kind == "mcu")
    summary: dict = {
        "run": str(run),
        "boards": boards,
        "deadline_ms": deadline_ms,
        "broker": "mosquitto " + _version(),
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
    }
    t_start = time.monotonic()
    try:
        with start_emulation(site, timeout=300.0) as emu:
            br = bridge(mcu.link, url, mcu.id, pty_dir=site.pty_dir)
            threading.Thread(target=br.run, daemon=True).start()
            summary["equal"] = equal_phase(dep, images, show)
            pngs = test_pngs(dep)
            summary["scale"] = {}
            for n in (1, 3):
                gws = Gateways(dep, url, shards(dep, n), out / f"gw{n}", 9108 if n == 3 else None)
                try:
                    pids = [p.pid for p in emu.procs.values()]
                    summary["scale"][str(n)] = load_rows(
                        url, pngs, rates, seconds, gws, broker.pid, pids
                    )
                    if n == 3:
                        _screenshot(out / "status.png", "http://127.0.0.1:9108/")
                        summary["faults"] = fault_phase(
                            url, pngs, gws, emu, broker, max(rates[0], 20), 12.0, "pi2"
                        )
                finally:
                    gws.stop()
            br.stop.set()
            summary["bridge"] = {**br.counts, **br.splitter.counts}
    finally:
        broker.stop()
    summary["loadavg_end"] = os.getloadavg()
    summary["wall_s"] = round(time.monotonic() - t_start, 1)
    (out / "fleet.json").write_text(json.dumps(summary, indent=2))
    return summary


def _version() -> str:
    from vp_edge.gateway.broker import find_binary

    r = subprocess.run([find_binary("mosquitto"), "-h"], capture_output=True, text=True)
    return (r.stdout or r.stderr).splitlines()[0].split()[-1] if (r.stdout or r.stderr) else "?"


def _screenshot(path: Path, url: str) -> None:
    import shutil

    browser = shutil.which("chromium")
    if browser:
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--virtual-time-budget=3000",
                "--window-size=1100,820",
                f"--screenshot={path}",
                url,
            ],
            capture_output=True,
            timeout=120,
        )


def fleet_table(s: dict) -> str:
    from vp_edge.gateway.loadtest import load_table

    e = s["equal"]
    lines = [
        f"fleet: {s['boards']} boards on {s['broker']}, deadline {s['deadline_ms']:.0f} ms, "
        f"{s['cpus']} CPUs, load average at start {s['loadavg_start'][0]:.1f}",
        f"live vs offline: {e['images']} images, {e['differing']} differing "
        f"({'EQUAL' if e['equal'] else 'DIFFERENT'}); mcu via bridge answered "
        f"{e['mcu_results']}",
    ]
    for n, rows in s["scale"].items():
        lines.append(f"{n} gateway(s):")
        lines.append(load_table(rows))
        lines.append(
            "  cpu, % of one core (gateways / boards / broker / clients / other / idle): "
            + "; ".join(
                f"{r['rate']:g}/s " + " / ".join(f"{v:.0f}" for v in r["cpu_pct"].values())
                for r in rows
            )
        )
    f = s["faults"]
    lines.append(
        f"faults at {f['rate']}/s: sent {f['sent']}, answered {f['answered']}, busy "
        f"{f['busy']}, errors {f['errors']}, lost {f['lost']}, retries {f['retries']}; "
        + "; ".join(f["events"])
    )
    return "\n".join(lines)
