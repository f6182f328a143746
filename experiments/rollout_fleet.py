"""A rollout of a fleet of every board kind under client load, and one with a bad artefact.

``python -m experiments.rollout_fleet --out DIR --run A --to B [--per-kind 2] [--json]``

Emulated boards (``boards.emulation``: linux over UDP, MCU behind a pty, the Cortex-M4 firmware
in QEMU, the simulated PYNQ-Z2) serve run A; a gateway serves them on a UDP port while
``vp-edge load`` sends ``--rate`` requests per second in back-to-back segments. Meanwhile
``vp_edge.rollout`` moves every board to run B, the deployment file is then pointed at B, and a
second rollout back to A carries one bad artefact: A's first ``.vpw`` with its golden output
changed and its hash made consistent, so the file passes every local check and the board's
self-test refuses it. That board must be reverted and the rollout halted. Every answer the
gateway gave is then recomputed offline: the vote of the boards that answered, each under the
model it ran at that moment (the answer names a re-learnt board's model) on its own runtime.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from converters.card import read_card
from converters.rundir import RunDir
from converters.vpw_format import HEADER_SIZE, read_vpw
from converters.vpw_run import ensure_vpw
from experiments.live_deploy import free_udp_port, write_deployment
from vp_edge.deployment import Deployment, load_deployment

KINDS = ("linux", "mcu", "pynq", "qemu")  # the bad .vpw goes to the first engine board
PROFILE = {"linux": "raspberry-pi-4", "mcu": "esp32-s3", "qemu": "cortex-m4", "pynq": "pynq-z2"}
PREFIX = {"linux": "pi", "mcu": "m", "qemu": "q", "pynq": "pynq"}
ROOT = Path(__file__).resolve().parents[1]


def fleet_boards(kinds: tuple[str, ...], per_kind: int, variants: list[str]) -> list[dict]:
    """``per_kind`` boards of each kind, variants taken in turn (every kind runs each)."""
    boards: list[dict] = []
    for kind in kinds:
        for _ in range(per_kind):
            i = len(boards) + 1
            name = f"{PREFIX[kind]}{i}"
            serial = kind in ("mcu", "qemu")
            link = f"pty://{name}" if serial else f"udp://127.0.0.1:{free_udp_port()}"
            v = variants[(i - 1) % len(variants)]
            boards.append(
                {"id": i, "name": name, "kind": kind, "link": link, "variant": v}
                | {"profile": PROFILE[kind]}
            )
    return boards


def write_fleet(out: Path, run: Path, boards: list[dict], deadline_ms: int) -> Path:
    """deploy.toml over ``run``, keeping a key file already in ``out``; returns its path."""
    return write_deployment(out, run, boards, deadline_ms, fresh_key=False)


def retarget(path: Path, dep: Deployment, run: Path) -> Deployment:
    """The deployment file ``path`` pointed at ``run`` (what the docs ask after a rollout)."""
    text = path.read_text().replace(f'run = "{dep.run}"', f'run = "{run.resolve()}"', 1)
    path.write_text(text)
    return load_deployment(path)


def bad_copy(run: Path, out: Path, variant: str) -> Path:
    """``run`` copied with ``variant``'s .vpw golden output changed and its hash made good
    again: a consistent file the card describes, which the board's self-test must refuse."""
    bad = out / "run-bad"
    shutil.rmtree(bad, ignore_errors=True)
    shutil.copytree(run, bad, ignore=shutil.ignore_patterns("checkpoints", "weights", "outputs"))
    path = RunDir(bad).vpw(variant)
    blob = bytearray(path.read_bytes())
    h = read_vpw(bytes(blob)).header
    at = int(h["golden_offset"]) + int(h["in_size"])  # first golden output value
    blob[at] = (blob[at] + 64) % 256
    import hashlib

    blob[16:48] = hashlib.sha256(bytes(blob[HEADER_SIZE:])).digest()
    assert struct.unpack_from("<4s", blob, 0)[0] == b"VPW1"
    path.write_bytes(bytes(blob))
    return bad


class GatewayThread:
    """``vp-edge gateway --listen`` in a thread: the live ``Gateway`` and every reply kept."""

    def __init__(self, dep: Deployment, url: str) -> None:
        from vp_edge.gateway.serve import ServeOptions, serve

        self.replies: list[dict] = []
        self.gw = None
        self.report: dict = {}
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        started = threading.Event()

        def on_start(gw) -> None:
            self.gw = gw
            started.set()

        async def main() -> None:
            try:
                self.report = await serve(
                    dep, ServeOptions(url), self.stop, on_start, self.replies.append
                )
            finally:
                started.set()

        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(main(),), daemon=True
        )
        self.thread.start()
        started.wait(120)
        if self.gw is None:
            raise RuntimeError("the gateway did not start")

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)


def write_images(folder: Path, n: int, seed: int = 24) -> np.ndarray:
    """``n`` random 28x28 grey images as PNG files (sorted names = ``vp-edge load``'s order)."""
    from PIL import Image

    x = np.random.default_rng(seed).integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(x):
        Image.fromarray(img[:, :, 0]).save(folder / f"{i:04d}.png")
    return x


class LoadLoop:
    """``vp-edge load`` run in back-to-back segments until ``done`` is set, plus one more."""

    def __init__(self, url: str, images: Path, rate: float, segment_s: float) -> None:
        self.argv = [sys.executable, "-m", "vp_edge", "load", "--gateway", url]
        self.argv += ["--images", str(images), "--rates", f"{rate:g}"]
        self.argv += ["--seconds", f"{segment_s:g}", "--wait", "3", "--json", "-"]
        self.rows: list[dict] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last = False
        while not last:
            last = self.done.is_set()
            r = subprocess.run(self.argv, capture_output=True, text=True, cwd=ROOT, timeout=900)
            if r.returncode not in (0, 3):
                raise RuntimeError(f"vp-edge load failed: {r.stderr[-2000:]}")
            self.rows += json.loads(r.stdout)["rows"]

    def totals(self) -> dict:
        keys = ("sent", "answered", "busy", "errors", "lost", "duplicates", "degraded")
        return {k: sum(r[k] for r in self.rows) for k in keys} | {"segments": len(self.rows)}


class OfflineVotes:
    """Each answer recomputed: every board that answered, under the model it ran then, on
    its own runtime (LiteRT for linux, tflite-micro for mcu, the C engine for qemu/pynq)."""

    def __init__(self, gw, runs: list[Path], images: np.ndarray) -> None:
        self.gw, self.images = gw, images
        self.by_sha: dict[str, tuple[Path, str]] = {}
        for run in runs:
            for path in sorted(RunDir(run).models.glob("*.json")):
                card = read_card(path)
                self.by_sha.setdefault(card["tflite_sha256"], (run, card["name"]))
        self.outputs: dict[tuple, tuple] = {}
        self.runners: dict[tuple, object] = {}

    def _pairs(self, board: str, model: str, i: int) -> tuple:
        from boards.registry import get_kind
        from firmware_bridge.protocol.topk import result_pairs
        from vp_edge.preprocess import quantize
        from vp_edge.rollout import offline_runner

        spec = self.gw.dep.board(board)
        engine = get_kind(spec.kind).runner
        key = (engine, spec.profile, model, i)
        if key not in self.outputs:
            card = self.gw.vote_cards[model]
            if (engine, spec.profile, model) not in self.runners:
                run, variant = self.by_sha[card["tflite_sha256"]]
                vpw = engine in ("engine", "pynq")
                data = ensure_vpw(run, variant) if vpw else RunDir(run).model(variant)
                self.runners[(engine, spec.profile, model)] = offline_runner(
                    spec, data.read_bytes()
                )
            runner = self.runners[(engine, spec.profile, model)]
            x = quantize(self.images[i], card["input_scale"], card["input_zero_point"])
            q = np.asarray(runner.run(x), np.int8).reshape(-1)  # type: ignore[attr-defined]
            self.outputs[key] = result_pairs(q, self.gw.dep.k)
        return self.outputs[key]

    def check(self, replies: list[dict]) -> dict:
        """Counts of answers equal / unequal to their offline vote, and the models seen."""
        from vp_edge.gateway.core import vote_boards

        gw, same, differ, seen = self.gw, 0, [], set()
        for r in replies:
            if not r.get("ok"):
                continue
            i = int(str(r["id"]).rsplit("-", 1)[1]) % len(self.images)
            models = r.get("models") or {}
            res = {}
            for name in r["answered"]:
                m = models.get(name) or gw.dep.board(name).variant
                seen.add(m)
                res[name] = (gw.dep.board(name).id, m, self._pairs(name, m, i))
            vote = vote_boards(res, gw.vote_cards, gw.num_classes, gw.dep.rule, gw.weights)[0]
            if vote.winner == r["winner"]:
                same += 1
            else:
                differ.append(r["id"])
        return {"equal": same, "differ": len(differ), "differ_ids": differ[:10],
                "models": sorted(seen)}  # fmt: skip


def _variants(run: Path) -> list[str]:
    from vp_edge.train import load_run_family

    return [v.name for v in load_run_family(run).variants]


def rollout_cli(dep_path: Path, to: Path, out: Path, opts: dict, say) -> dict:
    """``vp-edge rollout`` in its own process, as a user runs it beside the gateway; its JSON
    report (with the exit code: 4 when it halted)."""
    argv = [sys.executable, "-m", "vp_edge", "rollout", "--deployment", str(dep_path)]
    argv += ["--to", str(to), "--state", str(out.with_suffix(".state.json"))]
    argv += ["--json", str(out)] + [f"--{k.replace('_', '-')}={v}" for k, v in opts.items()]
    say("$ vp-edge " + " ".join(argv[3:]))
    out.unlink(missing_ok=True)
    r = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    for line in r.stderr.splitlines():
        if line.startswith("rollout:"):
            say("  " + line)
    if not out.exists():
        raise RuntimeError(f"vp-edge rollout failed (exit {r.returncode}): {r.stderr[-2000:]}")
    return json.loads(out.read_text()) | {"exit_code": r.returncode}


def _rollouts(dep: Deployment, run_b: Path, bad: Path, out: Path, opts: dict, say) -> tuple:
    """The good rollout to B, the deployment moved to B, then the bad rollout back to A."""
    path = out / "deploy.toml"
    first = rollout_cli(path, run_b, out / "rollout-1.json", opts, say)
    retarget(path, dep, run_b)
    second = rollout_cli(path, bad, out / "rollout-2.json", opts, say)
    return first, second


def measure(
    run_a: Path,
    run_b: Path,
    out: Path,
    kinds: tuple[str, ...] = KINDS,
    per_kind: int = 2,
    rate: float = 20.0,
    segment_s: float = 10.0,
    rollout_opts: dict | None = None,
    deadline_ms: int = 2000,
    say=print,
) -> dict:
    """Both rollouts under load on a fresh emulated fleet; the figures as a dict."""
    from boards.emulation import start_emulation

    variants = _variants(run_a)
    for run in (run_a, run_b):
        for v in variants:
            ensure_vpw(run, v)
    boards = fleet_boards(kinds, per_kind, variants)
    engine_boards = [b for b in boards if b["kind"] in ("qemu", "pynq")]
    bad_board = engine_boards[0] if engine_boards else None
    bad = bad_copy(run_a, out, bad_board["variant"] if bad_board else variants[0])
    dep = load_deployment(write_fleet(out, run_a, boards, deadline_ms))
    images = write_images(out / "images", 32)
    t0 = time.monotonic()
    emu = start_emulation(dep, timeout=300)
    say(f"{len(boards)} boards serving after {time.monotonic() - t0:.1f} s")
    try:
        url = f"udp://127.0.0.1:{free_udp_port()}"
        gwt = GatewayThread(dep, url)
        load = LoadLoop(url, out / "images", rate, segment_s)
        try:
            load.thread.start()
            time.sleep(2.0)
            opts = {"max_unavailable": 1, "canary": 4, "timeout": 12} | (rollout_opts or {})
            first, second = _rollouts(dep, run_b, bad, out, opts, say)
            time.sleep(1.0)
            load.done.set()
            load.thread.join(120)
        finally:
            gwt.close()
        with open(out / "replies.jsonl", "w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in gwt.replies)
        check = OfflineVotes(gwt.gw, [run_a, run_b], images).check(gwt.replies)
    finally:
        emu.stop()
    return {
        "boards": {b["name"]: f"{b['kind']}/{b['variant']}" for b in boards},
        "rate": rate,
        "load": load.totals(),
        "gateway_replies": len(gwt.replies),
        "offline_check": check,
        "rollout": first,
        "bad_rollout": second | {"bad_board": bad_board and bad_board["name"]},
        "gateway": {k: gwt.report.get(k) for k in ("requests", "answered", "errors")},
    }


def summary(r: dict) -> str:
    """The figures in a few lines."""
    first, second, load = r["rollout"], r["bad_rollout"], r["load"]
    bad = second["bad_board"]
    return "\n".join(
        [
            f"boards: {', '.join(f'{n} ({k})' for n, k in r['boards'].items())}",
            f"vp-edge load at {r['rate']:g}/s in {load['segments']} segments: sent "
            f"{load['sent']}, answered {load['answered']}, busy {load['busy']}, errors "
            f"{load['errors']}, lost {load['lost']}, degraded {load['degraded']}",
            f"rollout 1: {first['seconds']:.1f} s, halted {first['halted']}, outcomes "
            + ", ".join(
                f"{n} {o['status']} {o['seconds']:.1f} s" for n, o in first["outcomes"].items()
            ),
            f"rollout 2 (bad .vpw for {bad}): {second['seconds']:.1f} s, "
            f"halted {second['halted']}, "
            + ", ".join(f"{n} {o['status']}" for n, o in second["outcomes"].items()),
            f"answers equal to the offline vote: {r['offline_check']['equal']} of "
            f"{r['offline_check']['equal'] + r['offline_check']['differ']} "
            f"(models seen: {', '.join(r['offline_check']['models'])})",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.rollout_fleet", description=__doc__)
    p.add_argument("--out", type=Path, required=True, help="work folder (deployment, figures)")
    p.add_argument("--run", type=Path, required=True, help="the converted run the fleet starts on")
    p.add_argument("--to", type=Path, required=True, help="the converted run to roll out")
    p.add_argument("--kinds", default=",".join(KINDS), help="board kinds (default all four)")
    p.add_argument("--per-kind", type=int, default=2, help="boards of each kind (default 2)")
    p.add_argument("--rate", type=float, default=20.0, help="requests per second (default 20)")
    p.add_argument("--segment", type=float, default=10.0, help="seconds per 'vp-edge load' run")
    p.add_argument("--canary", type=int, default=4, help="canary requests per board (default 4)")
    p.add_argument("--max-unavailable", type=int, default=1, help="boards updated at once")
    p.add_argument("--deadline-ms", type=int, default=2000, help="the gateway's deadline")
    p.add_argument("--json", nargs="?", const="-", default=None, help="figures as JSON (PATH or -)")
    a = p.parse_args(argv)
    kinds = tuple(k for k in a.kinds.split(",") if k)
    if bad := [k for k in kinds if k not in KINDS]:
        p.error(f"--kinds: unknown kind(s) {', '.join(bad)}; choose from {', '.join(KINDS)}")
    say = (lambda s: print(s, file=sys.stderr)) if a.json == "-" else print
    opts = {"canary": a.canary, "max_unavailable": a.max_unavailable}
    r = measure(a.run, a.to, a.out, kinds, a.per_kind, a.rate, a.segment, opts, a.deadline_ms, say)
    (a.out / "rollout_fleet.json").write_text(json.dumps(r, indent=1) + "\n")
    say(summary(r))
    if a.json:
        text = json.dumps(r, indent=1) + "\n"
        sys.stdout.write(text) if a.json == "-" else Path(a.json).write_text(text)
    ok = r["load"]["lost"] == 0 and r["load"]["errors"] == 0 and r["offline_check"]["differ"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
