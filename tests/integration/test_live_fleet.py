"""Live updates on emulated boards of every kind as processes (``boards.emulation``): the PYNQ
board re-flashed under a running gateway, and a rollout over linux, MCU, PYNQ and QEMU boards
under ``vp-edge load`` with one bad artefact (``experiments.rollout_fleet``)."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from experiments.rollout_fleet import (
    KINDS,
    GatewayThread,
    fleet_boards,
    free_udp_port,
    measure,
    write_fleet,
)
from vp_edge.cli import main
from vp_edge.deployment import load_deployment


def _need(kinds: tuple[str, ...]) -> None:
    from boards.emulators import pynq_missing, qemu_missing

    for kind, why in (("pynq", pynq_missing()), ("qemu", qemu_missing())):
        if kind in kinds and why:
            pytest.skip(f"cannot emulate a {kind} board here: {why}")


def _swapped(run: Path, root: Path) -> Path:
    """Another converted run: ``run``'s t16 and t24 swapped (models, cards and .vpw files)."""
    from converters.vpw_run import ensure_vpw

    out = root / "run-b"
    shutil.copytree(run, out, ignore=shutil.ignore_patterns("outputs", "checkpoints", "weights"))
    for v, w in (("t16", "t24"), ("t24", "t16")):
        ensure_vpw(run, w)
        for suffix in (".tflite", ".json", ".vpw"):
            shutil.copyfile(run / "models" / f"{w}{suffix}", out / "models" / f"{v}{suffix}")
    return out


@pytest.mark.slow
def test_reflash_the_pynq_board_under_a_running_gateway(tiny_run: Path, tmp_path: Path):
    """``vp-edge flash`` into the simulated PYNQ board while a gateway serves it: the board
    votes again, under its new model, within 5 s of flash returning, no gateway restart."""
    from boards.emulation import start_emulation
    from converters.vpw_run import ensure_vpw

    _need(("pynq",))
    boards = fleet_boards(("linux", "pynq"), 1, ["t16", "t24"])  # pi1 t16, pynq2 t24
    dep = load_deployment(write_fleet(tmp_path, tiny_run, boards, 2000))
    x = np.random.default_rng(4).integers(0, 256, (2, 28, 28, 1), dtype=np.uint8)
    with start_emulation(dep, timeout=120):
        gwt = GatewayThread(dep, f"udp://127.0.0.1:{free_udp_port()}")
        gw = gwt.gw

        def answered(img: np.ndarray) -> tuple[str, ...]:
            return asyncio.run_coroutine_threadsafe(gw.classify(img), gwt.loop).result(30).answered

        try:
            assert all(answered(img) == ("pi1", "pynq2") for img in x)
            t0 = time.monotonic()
            vpw = str(ensure_vpw(tiny_run, "t16"))
            argv = ["flash", vpw, "--deployment", str(dep.path), "--board", "pynq2"]
            assert main(argv) == 0
            flashed = time.monotonic()
            while time.monotonic() - flashed < 5.0:
                if "pynq2" in answered(x[0]) and gw.boards["pynq2"].model == "t16":
                    break
            took = time.monotonic() - flashed
            assert took < 5.0, "pynq2 did not vote again within 5 s of flash returning"
        finally:
            gwt.close()
    print(
        f"\n[re-flash pynq] flash {flashed - t0:.1f} s; pynq2 voted again under t16 "
        f"{took:.2f} s after flash returned"
    )


@pytest.mark.slow
def test_rollout_over_every_kind_under_load(tiny_run: Path, tmp_path: Path):
    """One board of each kind, ``vp-edge load`` at 20/s: the rollout loses no request, each
    answer is the offline vote of its boards under their models then; a bad .vpw (its golden
    output changed, hash consistent) is refused by the PYNQ board's self-test: reverted, halt."""
    _need(KINDS)
    r = measure(
        tiny_run,
        _swapped(tiny_run, tmp_path),
        tmp_path / "fleet",
        KINDS,
        per_kind=1,
        rate=20.0,
        segment_s=5.0,
        rollout_opts={"canary": 2, "timeout": 12},
    )
    first, second, load = r["rollout"], r["bad_rollout"], r["load"]
    assert not first["halted"] and first["exit_code"] == 0
    assert {o["status"] for o in first["outcomes"].values()} == {"done"}
    assert second["halted"] and second["exit_code"] == 4
    statuses = {n: o["status"] for n, o in second["outcomes"].items()}
    assert statuses == {"pi1": "done", "m2": "done", "pynq3": "reverted"}, second["outcomes"]
    assert load["lost"] == 0 and load["errors"] == 0 and load["answered"] > 0
    check = r["offline_check"]
    assert check["differ"] == 0 and check["equal"] == load["answered"]
    print(
        f"\n[rollout fleet] rollout {first['seconds']:.1f} s; bad rollout halted after "
        f"{second['seconds']:.1f} s; load {load}; {check['equal']} answers equal offline"
    )
