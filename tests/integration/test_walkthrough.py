"""A newcomer's walk-through as one test: their own image folder and family file, then train ->
convert -> evaluate -> pack -> a deployment of emulated boards (two Linux boards, a
microcontroller, a QEMU firmware board and a PYNQ board; the last two skipped cleanly when their
tools are missing) -> gateway -> classify -> flash each board by name -> the gateway again.

The family's class order differs from the sorted folder order, so any place that numbers
classes by folder name serves triangles as "stripes": every live label is checked by name.
Also: ``kill -9`` of one board while emulating leaves the others serving, and every later
request is answered from the survivors.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.tf, pytest.mark.slow]

from shapes_helpers import SHAPES, draw, write_family, write_shapes  # noqa: E402
from tiny_helpers import ROOT  # noqa: E402

PER_CLASS = 48
TRAIN = ["--epochs", "8", "--patience", "8", "--batch-size", "8", "--lr", "2e-3", "--no-baseline"]


def cli(
    *args: str, cwd: Path, ok: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    r = subprocess.run(
        [sys.executable, "-m", "vp_edge", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )
    if ok:
        assert r.returncode == 0, f"vp-edge {' '.join(args)} -> {r.returncode}:\n{r.stderr[-3000:]}"
    return r


def background(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(
        [sys.executable, "-m", "vp_edge", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def boards(run: Path) -> list[dict]:
    """Two linux boards, one mcu; a qemu and a pynq board when this machine can emulate them."""
    from boards.emulators import firmware_misfit, pynq_missing, qemu_missing

    out = [
        {
            "id": 1,
            "name": "pi-1",
            "kind": "linux",
            "link": f"udp://127.0.0.1:{free_port()}",
            "variant": "s16",
        },
        {
            "id": 2,
            "name": "pi-2",
            "kind": "linux",
            "link": f"udp://127.0.0.1:{free_port()}",
            "variant": "s24",
        },
        {
            "id": 3,
            "name": "mcu-1",
            "kind": "mcu",
            "link": "pty://mcu-1",
            "variant": "s16",
            "profile": "esp32-s3",  # 921600 baud: flashing takes seconds, not a minute
        },
    ]
    if qemu_missing() is None and firmware_misfit((run / "models/s16.vpw").read_bytes()) is None:
        out.append(
            {"id": 4, "name": "fw-1", "kind": "qemu", "link": "pty://fw-1", "variant": "s16"}
        )
    if pynq_missing() is None:
        out.append(
            {
                "id": 5,
                "name": "pynq-1",
                "kind": "pynq",
                "link": f"udp://127.0.0.1:{free_port()}",
                "variant": "s24",
            }
        )
    return out


def wait_ready(dep_dir: Path, names: list[str], emu: subprocess.Popen, timeout: float) -> None:
    end = time.monotonic() + timeout
    ready = dep_dir / ".deploy.state" / "ready"
    while not all((ready / f"{n}.json").exists() for n in names):
        assert emu.poll() is None, f"emulate exited: {emu.stderr.read()[-2000:]}"
        assert time.monotonic() < end, "emulated boards not ready in time"
        time.sleep(0.2)
    time.sleep(0.5)  # 'emulating' is printed after the last ready file


def gateway_split(dep: Path, cwd: Path, *extra: str) -> dict:
    r = cli(
        "gateway",
        "--deployment",
        str(dep),
        "--split",
        "test",
        "--no-progress",
        "--json",
        *extra,
        cwd=cwd,
        ok=False,
    )
    assert r.returncode in (0, 3), r.stderr[-2000:]
    return json.loads(r.stdout)


def test_walkthrough_serves_every_class_under_its_own_name(tmp_path: Path) -> None:
    work = tmp_path / "work"
    write_shapes(work / "shapes", PER_CLASS)
    write_family(work / "shapes.json")
    run = work / "runs" / "a"
    t = cli(
        "train", "--family", "shapes.json", "--data", "shapes", "--out", "runs/a", *TRAIN, cwd=work
    )
    assert "classes circle, square, triangle, stripes" in t.stderr  # split sizes and order
    data = json.loads((run / "data.json").read_text())
    assert data["class_names"] == list(SHAPES) and Path(data["source"]).is_absolute()
    cli("convert", "--run", "runs/a", "--calibration", "32", cwd=work)
    for v in ("s16", "s24"):
        assert json.loads((run / "models" / f"{v}.json").read_text())["class_names"] == list(SHAPES)
    ev = json.loads(cli("evaluate", "--run", "runs/a", "--json", "-", cwd=work).stdout)
    assert ev["class_names"] == list(SHAPES) and ev["splits"]["test"] > 0
    for v in ("s16", "s24"):
        p = json.loads(cli("pack", f"runs/a/models/{v}.tflite", "--json", "-", cwd=work).stdout)
        assert p["golden"]  # by default: boards refuse a .vpw without its self-test

    key = work / "deploy.key"
    key.write_text(bytes(range(16, 48)).hex() + "\n")
    from vp_edge.deployment import deployment_toml

    specs = boards(run)
    dep_file = work / "deploy.toml"
    dep_file.write_text(
        deployment_toml(
            {"run": "runs/a", "key_file": "deploy.key", "k": 1, "deadline_ms": 1500}, specs
        )
    )
    names = [b["name"] for b in specs]
    emu = background("emulate", "--deployment", "deploy.toml", cwd=work)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    try:
        wait_ready(work, names, emu, 240)
        # 1. the test split, from another folder (the run's data path is absolute)
        rep = gateway_split(dep_file, elsewhere)
        assert rep["errors"] == 0 and not _not_serving(rep), _not_serving(rep)
        assert rep["accuracy"] >= 0.5, rep["accuracy"]  # chance is 0.25

        # 2. clients: new images of every class through the UDP gateway and vp-edge classify
        trained = training_index(run, work / "shapes")
        assert trained == {kind: i for i, kind in enumerate(SHAPES)}  # the family's order
        assert _classify_each_class(work, elsewhere, trained) >= 3

        # 3. flash every board by name with its own variant's artefact; the gateway still hears
        for b in specs:
            suffix = "vpw" if b["kind"] in ("qemu", "pynq") else "tflite"
            art = f"runs/a/models/{b['variant']}.{suffix}"
            r = cli(
                "flash",
                art,
                "--deployment",
                "deploy.toml",
                "--board",
                b["name"],
                "--json",
                "-",
                "--timeout",
                "2",
                cwd=work,
            )
            f = json.loads(r.stdout)
            assert f["verified"] and f["board"] == b["name"] and not f["warnings"], f
        rep = gateway_split(dep_file, elsewhere, "--limit", "12")
        assert rep["errors"] == 0, rep
        assert not _not_serving(rep), _not_serving(rep)  # the gateway accepts every board

        # 4. kill -9 one board: the others keep serving, every answer comes from survivors
        pid = json.loads((work / ".deploy.state" / "ready" / "pi-2.json").read_text())["pid"]
        os.kill(pid, signal.SIGKILL)
        time.sleep(1.5)
        assert emu.poll() is None, "one dead board must not end the emulation"
        rep = gateway_split(dep_file, elsewhere, "--limit", "12")
        assert rep["requests"] == 12 and rep["errors"] == 0 and rep["degraded"] == 12
        assert rep["boards"]["pi-2"]["reason"] is not None
    finally:
        emu.send_signal(signal.SIGINT)
        try:
            out, err = emu.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            emu.kill()
            out, err = emu.communicate()
    assert "board pi-2 exited (killed by SIGKILL)" in err, err[-2000:]
    assert emu.returncode == 130, err[-2000:]


def _not_serving(rep: dict) -> dict:
    """Boards the gateway refused or that never answered (a slow board on a loaded machine may
    miss a deadline and be down at the end; it still served)."""
    return {
        n: (b["refused"], b["reason"])
        for n, b in rep["boards"].items()
        if b["refused"] or not b["results"]
    }


def training_index(run: Path, shapes: Path) -> dict[str, int]:
    """The label the run's own data loading gives one image of each folder (what was trained)."""
    import numpy as np

    from vp_edge.convert import load_run_data
    from vp_edge.data import load_image
    from vp_edge.train import load_run_family

    splits = load_run_data(run, load_run_family(run))
    out = {}
    for kind in SHAPES:
        img = load_image(sorted((shapes / kind).glob("*.png"))[0], (28, 28, 1))
        for d in (splits.train, splits.val, splits.test):
            hit = [int(y) for x, y in zip(d.x, d.y) if np.array_equal(x, img)]
            if hit:
                out[kind] = hit[0]
    return out


def _classify_each_class(work: Path, elsewhere: Path, trained: dict[str, int]) -> int:
    """``vp-edge classify`` on new images of every class. Each answer names its class index by
    the run's order; an answer with the index the class was trained as must carry the class's
    own name (a swapped order would serve, e.g., triangles as "stripes"). Returns how many."""
    import numpy as np
    from PIL import Image

    port = free_port()
    gw = background(
        "gateway",
        "--deployment",
        "deploy.toml",
        "--listen",
        f"udp://127.0.0.1:{port}",
        "--no-progress",
        cwd=work,
    )
    checked = 0
    try:
        rng = np.random.default_rng(99)
        for kind in SHAPES:
            for i in range(3):
                path = elsewhere / f"{kind}-{i}.png"
                Image.fromarray(draw(kind, rng)).save(path)
                reply = _classify(port, path, elsewhere)
                assert reply["class_name"] == SHAPES[reply["winner"]], reply
                if reply["winner"] == trained[kind]:
                    assert reply["class_name"] == kind, (kind, reply)
                    checked += 1
    finally:
        gw.send_signal(signal.SIGINT)
        try:
            gw.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            gw.kill()
            gw.communicate()
    return checked


def _classify(port: int, path: Path, cwd: Path) -> dict:
    r = None
    for _ in range(40):  # until the gateway has bound its port and found its boards
        r = cli(
            "classify",
            "--gateway",
            f"udp://127.0.0.1:{port}",
            str(path),
            "--json",
            "-",
            cwd=cwd,
            ok=False,
        )
        if r.returncode == 0:
            return json.loads(r.stdout)
        time.sleep(0.5)
    raise AssertionError(r.stderr[-2000:] if r else "no classify run")
