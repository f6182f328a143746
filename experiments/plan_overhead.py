"""Measure the per-request overhead of UDP and serial boards for the planner (costs.json).

What a reply from a board over UDP carries beyond its compute and the link model's bytes and
datagram latency (``vp_edge.plan.overhead``), in two parts:

1. the board daemon's own work per request: ``boards.server.BoardServer`` handling INFER
   datagrams with a runtime that returns at once, in this process (median of ``--requests``);
2. the rest: an emulated Linux board and an emulated PYNQ board (the real daemons, loopback UDP)
   serve ``--images`` test images of RUN through the real gateway, unheld; per kind, the rest is
   the live p50 - (the emulator's runtime on this host + the link model) - part 1.

Serial boards (``serial_overhead``): emulated microcontroller boards (the ``vp-edge board
serve`` daemon on tflite-micro behind a pty throttled to the profile's baud rate) serve the same
images through the real gateway, unheld; per fleet, the rest is the boards' median live p50 -
(tflite-micro's runtime on this host + the line's bytes at the baud rate), and the spread their
largest p95 - p50; the daemon's own work per request on serial frames is timed apart, as for
UDP, and recorded (it is part of the rest, not subtracted).

    python -m experiments.plan_overhead RUN [--variant NAME] [--images 200] [--rate 5] \\
        [--only udp|serial] [--out vp_edge/plan/costs.json] [--dry-run]

The machine, the date and the load average before and after are recorded beside the figures.
Nothing here depends on the Cortex-M kernels or on the instruction calibration.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vp_edge.plan.costs import COSTS_FILE

#: the calibration fleets' boards: the UDP kinds the planner has a compute model for, in turn
CALIBRATION_KINDS = (("linux", "raspberry-pi-4"), ("pynq", "pynq-z2"))


class _Instant:
    """A runtime that answers at once, so only the daemon's own work is timed."""

    name, artefact, stages = "instant", ".tflite", 1

    def __init__(self, input_bytes: int, outputs: int) -> None:
        self.input_shape, self.output_size = (input_bytes,), outputs
        self.input_bytes = input_bytes
        self._out = np.arange(outputs, dtype=np.int8)

    def stage_input_bytes(self, stage: int) -> int:
        return self.input_bytes

    def run_stage(self, key: int, stage: int, x: np.ndarray) -> np.ndarray:
        return self._out


class _Datagrams:
    """A link that hands over prepared datagrams (or serial frames) and drops what the board
    sends."""

    def __init__(self, framing: str = "datagram") -> None:
        self.framing = framing
        self.inbox: list[bytes] = []
        self.sent = 0

    def recv(self, timeout: float) -> bytes:
        return self.inbox.pop() if self.inbox else b""

    def send(self, data: bytes) -> None:
        self.sent += 1

    send_unsolicited = send

    def confirm_peer(self) -> None:
        pass

    def close(self) -> None:
        pass


def board_daemon_ms(
    input_bytes: int, k: int, outputs: int, requests: int = 500, framing: str = "datagram"
) -> float:
    """Median milliseconds ``BoardServer`` spends on one INFER request (its datagrams, or its
    COBS frames on a serial ``framing="stream"``, in, checked, reassembled, answered RESULT,
    signed) outside its runtime, on this host."""
    import firmware_bridge as fb
    from boards.server import BoardConfig, BoardServer

    key, board_id = os.urandom(16), 1
    link, runner = _Datagrams(framing), _Instant(input_bytes, outputs)
    server = BoardServer(link, runner, BoardConfig(board_id, "instant", k, key))  # type: ignore[arg-type]
    gateway = fb.Sender(key, fb.boot_counter(None), board_id=board_id, from_gateway=True)
    tensor = np.random.default_rng(0).integers(-128, 128, input_bytes, np.int8).tobytes()
    times = []
    for rid in range(1, requests + 1):
        frames = [gateway.frame(m, rid) for m in fb.split_infer(tensor)]
        frames = frames if framing == "datagram" else [fb.to_serial(f) for f in frames]
        link.inbox = frames[::-1]  # recv pops from the end: first chunk first
        sent, t0 = link.sent, time.perf_counter()
        while link.inbox:
            server.step(0.0)
        times.append(time.perf_counter() - t0)
        if link.sent != sent + 1:
            raise RuntimeError(f"the board answered request {rid} with {link.sent - sent} frames")
    return float(np.median(times)) * 1e3


def _calibration_deployment(variant: str, k: int, boards: int, tmp: Path) -> Path:
    """``boards`` UDP boards, the kinds of ``CALIBRATION_KINDS`` in turn, serving ``variant``."""
    lines = [f"k = {k}", "deadline_ms = 2000", ""]
    for i in range(1, boards + 1):
        kind, profile = CALIBRATION_KINDS[(i - 1) % len(CALIBRATION_KINDS)]
        lines += ["[[boards]]", f"id = {i}", f'name = "{kind}{i}"', f'kind = "{kind}"']
        lines += ['link = "udp://127.0.0.1:1"', f'variant = "{variant}"']
        lines += [f'profile = "{profile}"', ""]
    path = tmp / f"calibration-{boards}.toml"
    path.write_text("\n".join(lines))
    return path


def fleet_rest(
    run: Path, variant: str, boards: int, board_ms: float, images: int, rate: float
) -> dict:
    """One fleet size served live, unheld: per kind the median of its boards' p50, the
    emulator's compute on this host, the link model and the rest they leave."""
    from boards.profiles import get_profile
    from experiments.plan_live import board_holds, emulated_deployment, p50_ms, run_live
    from vp_edge.plan.link import link_cost

    load, in_bytes = os.getloadavg()[0], _input_bytes(run)
    with tempfile.TemporaryDirectory(prefix="vp-plan-overhead-") as tmp:
        planned = _calibration_deployment(variant, 2, boards, Path(tmp))
        dep, profiles = emulated_deployment(planned, run, Path(tmp) / "dep", deadline_ms=2000)
        host = board_holds(dep, profiles)  # the emulators' own runtime on this host
        res = run_live(dep, None, images, rate)
    kinds: dict[str, dict] = {}
    for b in dep.boards:
        p50 = p50_ms(res.board_latency_s.get(b.name, []))
        if p50 is None:
            raise RuntimeError(f"board {b.name} never answered; no overhead measured")
        k = kinds.setdefault(b.kind, {"p50s": [], "compute_ms": host[b.name]["emulator_ms"]})
        k["p50s"].append(p50)
        link = link_cost(in_bytes, 2, get_profile(profiles[b.name]).link, None)
        k["link_ms"] = link.seconds * 1e3
    for k in kinds.values():
        k["p50_ms"] = round(float(np.median(k.pop("p50s"))), 3)
        k["rest_ms"] = round(k["p50_ms"] - k["compute_ms"] - k["link_ms"] - board_ms, 3)
        k["compute_ms"], k["link_ms"] = round(k["compute_ms"], 4), round(k["link_ms"], 3)
    return {
        "boards": boards,
        "load_1min": [round(load, 2), round(os.getloadavg()[0], 2)],
        "requests": res.images,
        "kinds": kinds,
    }


#: the profile of the serial calibration boards: a Cortex-M4 at 115200 baud with room for any
#: candidate's .tflite (what the emulator runs)
SERIAL_PROFILE = "cortex-m4"


def _serial_deployment(variant: str, boards: int, tmp: Path) -> Path:
    """``boards`` serial microcontroller boards serving ``variant``."""
    lines = ["k = 2", "deadline_ms = 2000", ""]
    for i in range(1, boards + 1):
        lines += ["[[boards]]", f"id = {i}", f'name = "mcu{i}"', 'kind = "mcu"']
        lines += [f'link = "pty://mcu{i}"', f'variant = "{variant}"']
        lines += [f'profile = "{SERIAL_PROFILE}"', ""]
    path = tmp / f"serial-{boards}.toml"
    path.write_text("\n".join(lines))
    return path


def serial_rest(run: Path, variant: str, boards: int, images: int, rate: float) -> dict:
    """One fleet of ``boards`` serial boards served live, unheld: the median of their p50,
    tflite-micro's time on this host, the line's time, the rest and the largest p95 - p50."""
    from boards.profiles import get_profile
    from converters.rundir import RunDir
    from experiments.plan_live import emulated_deployment, run_live
    from vp_edge.benchmark import benchmark
    from vp_edge.plan.link import link_cost

    load = os.getloadavg()[0]
    tfl = RunDir(run).model(variant).read_bytes()
    host = benchmark("tflite", tfl, runs=50, runtimes=("tflm",), qemu=False)
    emu_ms = float(host["runtimes"]["tflm"]["median_ms"])
    prof = get_profile(SERIAL_PROFILE)
    line_ms = link_cost(_input_bytes(run), 2, "uart", prof.baud).seconds * 1e3
    with tempfile.TemporaryDirectory(prefix="vp-plan-serial-") as tmp:
        planned = _serial_deployment(variant, boards, Path(tmp))
        dep, _ = emulated_deployment(planned, run, Path(tmp) / "dep", deadline_ms=2000)
        res = run_live(dep, None, images, rate)
    lat = [np.array(res.board_latency_s.get(b.name, [])) * 1e3 for b in dep.boards]
    if any(len(v) == 0 for v in lat):
        raise RuntimeError("a serial board never answered; no overhead measured")
    p50 = float(np.median([np.percentile(v, 50) for v in lat]))
    spread = max(float(np.percentile(v, 95) - np.percentile(v, 50)) for v in lat)
    return {
        "boards": boards,
        "load_1min": [round(load, 2), round(os.getloadavg()[0], 2)],
        "requests": res.images,
        "compute_ms": round(emu_ms, 3),
        "link_ms": round(line_ms, 3),
        "p50_ms": round(p50, 3),
        "rest_ms": round(p50 - emu_ms - line_ms, 3),
        "spread_ms": round(spread, 3),
    }


def measure_serial(
    run: Path, variant: str | None, sizes: list[int], images: int, rate: float
) -> dict:
    """The ``serial_overhead`` entry, with what it was measured from."""
    from converters.rundir import RunDir
    from vp_edge.family import load_family
    from vp_edge.plan.overhead import fit_rest

    fam = load_family(RunDir(run).family)
    variant = variant or fam.variants[0].name
    board_ms = board_daemon_ms(_input_bytes(run), 2, fam.num_classes, framing="stream")
    fleets = [serial_rest(run, variant, n, images, rate) for n in sizes]
    base, per = fit_rest({"mcu": [(f["boards"], f["rest_ms"]) for f in fleets]})["mcu"]
    return {
        "about": "measured by python -m experiments.plan_overhead --only serial; "
        "vp_edge/plan/overhead.py",
        **_provenance(run, variant, rate),
        "profile": SERIAL_PROFILE,
        #: the emulated daemon's own work per request (in the rest; a real board's firmware
        #: does it in C), apart from the pty's pacing and the gateway's reader and loop
        "board_ms": round(board_ms, 4),
        "base_ms": round(base, 3),
        "per_board_ms": round(per, 3),
        "spread_ms": round(max(f["spread_ms"] for f in fleets), 3),
        "fleets": fleets,
    }


def _provenance(run: Path, variant: str, rate: float) -> dict:
    return {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}",
        "run": str(run),
        "variant": variant,
        "input_bytes": _input_bytes(run),
        "k": 2,
        "rate_hz": rate,
    }


def _input_bytes(run: Path) -> int:
    from converters.rundir import RunDir
    from vp_edge.family import load_family

    return int(np.prod(load_family(RunDir(run).family).input_shape))


def measure(run: Path, variant: str | None, sizes: list[int], images: int, rate: float) -> dict:
    """The ``udp_overhead`` entry: both parts, with what they were measured from."""
    from converters.rundir import RunDir
    from vp_edge.family import load_family
    from vp_edge.plan.overhead import fit_rest

    fam = load_family(RunDir(run).family)
    variant = variant or fam.variants[0].name
    board_ms = board_daemon_ms(_input_bytes(run), 2, fam.num_classes)
    fleets = [fleet_rest(run, variant, n, board_ms, images, rate) for n in sizes]
    points = {
        kind: [(f["boards"], f["kinds"][kind]["rest_ms"]) for f in fleets]
        for kind in fleets[0]["kinds"]
    }
    rest = {
        kind: {"base": round(base, 3), "per_board": round(per, 3)}
        for kind, (base, per) in fit_rest(points).items()
    }
    return {
        "about": "measured by python -m experiments.plan_overhead; vp_edge/plan/overhead.py",
        **_provenance(run, variant, rate),
        "pynq_fabric": os.environ.get("VP_PYNQ_FABRIC", ""),
        "board_ms": round(board_ms, 4),
        "rest_ms": rest,
        "fleets": fleets,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a converted run; its family's input decides the size")
    ap.add_argument("--variant", help="the member both boards serve (default: the first)")
    ap.add_argument("--images", type=int, default=150, help="requests per fleet (default 150)")
    ap.add_argument(
        "--sizes",
        default="2,6,2,6",
        help="fleet sizes served in this order, boards of the kinds in turn (default 2,6,2,6: "
        "each twice, so a change of load weighs on both)",
    )
    ap.add_argument("--rate", type=float, default=5.0, help="requests a second (default 5)")
    ap.add_argument("--out", type=Path, default=COSTS_FILE, help="the costs file to update")
    ap.add_argument(
        "--serial-sizes",
        default="1,3,1,3",
        help="serial fleet sizes served in this order (default 1,3,1,3)",
    )
    ap.add_argument("--only", choices=("udp", "serial"), help="measure one of the two terms")
    ap.add_argument("--dry-run", action="store_true", help="print, do not write")
    args = ap.parse_args(argv)
    sizes = [int(v) for v in args.sizes.split(",")]
    serial_sizes = [int(v) for v in args.serial_sizes.split(",")]
    if len(set(sizes)) < 2 or min(sizes) < len(CALIBRATION_KINDS):
        ap.error(f"--sizes: two sizes or more, each at least {len(CALIBRATION_KINDS)}")
    if len(set(serial_sizes)) < 2 or min(serial_sizes) < 1:
        ap.error("--serial-sizes: two sizes or more, each at least 1")
    entries = {}
    if args.only != "serial":
        entries["udp_overhead"] = measure(args.run, args.variant, sizes, args.images, args.rate)
    if args.only != "udp":
        entries["serial_overhead"] = measure_serial(
            args.run, args.variant, serial_sizes, args.images, args.rate
        )
    print(json.dumps(entries, indent=1))
    if not args.dry_run:
        doc = json.loads(args.out.read_text())
        doc.update(entries)
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {', '.join(entries)} into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
