"""The strategies live: one emulated Linux board per part behind one gateway, real frames.

Per strategy a deployment (``strategy = NAME``, boards on loopback UDP, LiteRT reference
kernels: what the offline figures ran) and one gateway session:

1. requests one at a time: every live answer against the offline plan's answer on the same
   image, latency, and bytes and messages per inference counted from the frames (``TapLinks``);
2. each single device killed (its process, ``Emulation.kill``) then restarted: answer rate and
   accuracy with it gone, live against offline with that part dropped;
3. N-1 devices dead at once (every frame to and from them cut at the gateway's links), for
   each survivor in turn: does the strategy still answer?
4. per-device failure probability p: each board misses whole requests with probability p.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import numpy as np

from experiments.bench.faults import TapLinks, inject
from experiments.bench.figures import fig
from experiments.bench.live import _pct, _port


def deployment(run: Path, strategy, out: Path, deadline_ms: float):
    """One linux board per part (reference kernels) on loopback UDP."""
    from vp_edge.deployment import deployment_toml, load_deployment

    out.mkdir(parents=True, exist_ok=True)
    (out / "deploy.key").write_text(secrets.token_hex(16) + "\n")
    top = {
        "run": str(Path(run).resolve()),
        "key_file": "deploy.key",
        "strategy": strategy.name,
        "deadline_ms": deadline_ms,
        "heartbeat_ms": 500,
    }
    if strategy.name == "vp":
        top.update(k=int(strategy.doc["vote"]["k"]), rule=strategy.doc["vote"]["rule"])
    boards = [
        {
            "id": i + 1,
            "name": f"{strategy.name}-{i + 1}",
            "kind": "linux",
            "link": f"udp://127.0.0.1:{_port()}",
            "variant": p.name,
            "kernels": "ref",
        }
        for i, p in enumerate(strategy.parts)
    ]
    path = out / "deploy.toml"
    path.write_text(deployment_toml(top, boards))
    return load_deployment(path)


async def _requests(gw, x: np.ndarray, y: np.ndarray, expected: list) -> dict:
    """One request at a time; answers against the offline outcomes."""
    lat, correct, answered, differ = [], 0, 0, 0
    for i in range(len(x)):
        a = await gw.classify(x[i], int(y[i]))
        lat.append(a.latency_s)
        answered += a.winner is not None
        correct += a.winner is not None and a.winner == int(y[i])
        differ += a.winner != expected[i].label
    return {"latency": lat, "correct": correct, "answered": answered, "differ": differ, "n": len(x)}


async def _wait_up(gw, names: list[str], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and not all(gw.boards[n].up for n in names):
        await asyncio.sleep(0.1)


def _row(r: dict, how: str) -> dict:
    n = r["n"]
    return {
        "answered": fig(r["answered"] / n, "measured", "", how),
        "accuracy": fig(r["correct"] / n, "measured", "", how + ", unanswered count wrong"),
        "differ_from_offline": fig(
            r["differ"], "measured", "", how + ": live answers unlike the offline plan's"
        ),
    }


async def _session(dep, strategy, emu, test, cfg, taps: TapLinks) -> dict:
    from vp_edge.gateway.core import Gateway
    from vp_edge.strategies.base import run_offline

    n, nk = min(cfg.live_images, len(test.y)), min(cfg.kill_images, len(test.y))
    x, y = test.x[:n], test.y[:n]
    expected = run_offline(strategy, x)
    gw = Gateway(dep, opener=taps)
    await gw.start(hello_timeout=30.0)
    try:
        taps.reset_counts()
        live = await _requests(gw, x, y, expected)
        wire = taps.reset_counts()
        how = f"{n} requests one at a time, {len(strategy.parts)} emulated linux boards"
        res = {
            **_row(live, how),
            "latency_s": _pct(live["latency"], "answer latency, " + how),
            "bytes_per_inference": fig(
                (wire["sent"] + wire["received"]) / n,
                "measured",
                "B",
                "UDP frames of requests and replies, both ways",
            ),
            "bytes_sent_per_inference": fig(wire["sent"] / n, "measured", "B", "gateway to boards"),
            "bytes_received_per_inference": fig(
                wire["received"] / n, "measured", "B", "boards to gateway"
            ),
            "messages_per_inference": fig(
                (wire["frames_sent"] + wire["frames_received"]) / n,
                "measured",
                "",
                "frames both ways",
            ),
        }
        res["kill_one"] = await _kill_each(gw, emu, strategy, dep, test.x[:nk], test.y[:nk])
        res["all_but_one_dead"] = await _all_but_one(
            gw, taps, strategy, dep, test.x[:nk], test.y[:nk]
        )
        nf = min(cfg.fault_images, len(test.y))
        res["failure_p"] = await inject(
            gw, taps, test.x[:nf], test.y[:nf], cfg.fault_grid, cfg.deadline_ms / 1000.0
        )
    finally:
        await gw.close()
    return res


async def _kill_each(gw, emu, strategy, dep, x, y) -> dict:
    from vp_edge.strategies.base import run_offline

    out = {}
    for b in dep.boards:
        expected = run_offline(strategy, x, drop=(b.variant,))
        emu.kill(b.name)
        r = await _requests(gw, x, y, expected)
        out[b.variant] = _row(r, f"{len(x)} requests, board {b.name} ({b.variant}) killed")
        emu.restart(b.name)
        await _wait_up(gw, [b.name])
    return out


async def _all_but_one(gw, taps: TapLinks, strategy, dep, x, y) -> dict:
    from vp_edge.strategies.base import run_offline

    out = {}
    for keep in dep.boards:
        dead = [b for b in dep.boards if b is not keep]
        expected = run_offline(strategy, x, drop=tuple(b.variant for b in dead))
        taps.dead = {b.name for b in dead}
        r = await _requests(gw, x, y, expected)
        taps.dead = set()
        out[keep.variant] = _row(
            r,
            f"{len(x)} requests, only {keep.name} ({keep.variant}) "
            "reachable, the others cut off at the gateway",
        )
        await _wait_up(gw, [b.name for b in dead])
    return out


def live_check(
    run: Path,
    x: np.ndarray,
    y: np.ndarray,
    out: Path,
    deadline_ms: float = 2000.0,
    kill: str | None = None,
) -> dict:
    """A strategy run on emulated boards: live answers against the offline plan's, all boards
    up, then (``kill``: a part name) with that part's board killed."""
    from boards.emulation import start_emulation
    from vp_edge.gateway.core import Gateway
    from vp_edge.strategies.base import load_strategy, run_offline

    strategy = load_strategy(run)
    dep = deployment(run, strategy, out, deadline_ms)

    async def session(emu) -> dict:
        gw = Gateway(dep)
        await gw.start(hello_timeout=30.0)
        try:
            res = {"all_up": await _requests(gw, x, y, run_offline(strategy, x))}
            if kill is not None:
                board = next(b.name for b in dep.boards if b.variant == kill)
                emu.kill(board)
                res["killed"] = await _requests(gw, x, y, run_offline(strategy, x, drop=(kill,)))
            return res
        finally:
            await gw.close()

    with start_emulation(dep) as emu:
        return asyncio.run(session(emu))


def live_one(name: str, run: Path, test, cfg, out: Path) -> dict:
    from boards.emulation import start_emulation
    from vp_edge.strategies.base import load_strategy

    strategy = load_strategy(run)
    dep = deployment(run, strategy, out / name, cfg.deadline_ms)
    t0 = time.monotonic()
    with start_emulation(dep) as emu:
        res = asyncio.run(_session(dep, strategy, emu, test, cfg, TapLinks(cfg.seed)))
    res["wall_s"] = fig(time.monotonic() - t0, "measured", "s", "this strategy's live part")
    return res


def live_all(runs: dict[str, Path], test, cfg) -> dict:
    """Every strategy live, one after the other (the deployments live in a temporary folder)."""
    import tempfile

    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="vp-strategies-") as tmp:
        for name, run in runs.items():
            if cfg.show:
                import sys

                print(f"strategies: {name} live on emulated boards", file=sys.stderr, flush=True)
            try:
                out[name] = live_one(name, run, test, cfg, Path(tmp))
            except Exception as e:
                out[name] = {"error": f"{type(e).__name__}: {e}"[:400]}
    return out
