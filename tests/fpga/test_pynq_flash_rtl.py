"""``vp-edge flash`` of a new variant into the emulated PYNQ board with the overlay's RTL behind
``vp_top``: the verified LOAD session activates it, HELLO announces it, and the board serves it
through the Verilated RTL: every RESULT equals the new model's offline top-k, and its compute
time is the RTL's own cycle count at 100 MHz for that input (the C engine fabric would report
host time). The daemon runs in .venv-pynq as ``vp-edge emulate`` starts it."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from conftest import need_verilator

ROOT = Path(__file__).resolve().parents[2]
KEY = bytes(range(32))
BOARD = 3


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _daemon(model: Path, url: str, tmp: Path) -> subprocess.Popen:
    from boards.emulators import pynq_missing, pynq_python, udp_bound
    from boards.pynq import emulator_command

    if why := pynq_missing():
        pytest.skip(why)
    key = tmp / "board.key"
    key.write_text(KEY.hex() + "\n")
    argv = emulator_command(
        model, url, BOARD, key, k=3, python=pynq_python(), model_dir=tmp / "slots"
    )
    env = {**os.environ, "VP_PYNQ_FABRIC": "rtl", "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen(argv, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 60
    while not udp_bound(url):
        if p.poll() is not None or time.monotonic() > end:
            p.kill()
            raise AssertionError(f"the PYNQ daemon did not start: {p.communicate()[1][-800:]}")
        time.sleep(0.05)
    return p


def test_flash_into_pynq_board_served_through_rtl(tiny_run: Path, tmp_path: Path) -> None:
    need_verilator()
    from converters.vpw_format import read_vpw
    from converters.vpw_run import ensure_vpw
    from firmware_bridge.engine import Engine
    from firmware_bridge.flash import flash
    from firmware_bridge.protocol.session import BoardSession
    from firmware_bridge.protocol.topk import result_pairs
    from fpga.sim import RtlSim, build_simulator
    from vp_edge.data import FASHION_MNIST_DIR, read_idx
    from vp_edge.preprocess import quantize

    build_simulator()  # the PYNQ environment has no Amaranth: the main one builds it
    url = f"udp://127.0.0.1:{_free_port()}"
    old, new = ensure_vpw(tiny_run, "t16"), ensure_vpw(tiny_run, "t24").read_bytes()
    p = _daemon(old, url, tmp_path)
    try:
        rep = flash(url, new, board_id=BOARD, key=KEY, epoch_file=tmp_path / "gw.epoch")
        assert rep.activated and rep.verified
        assert rep.previous_sha256 == hashlib.sha256(old.read_bytes()).hexdigest()
        eng, sim = Engine(new), RtlSim(new)
        h = read_vpw(new).header
        imgs = read_idx(Path(FASHION_MNIST_DIR) / "t10k-images-idx3-ubyte.gz")[:4]
        with BoardSession(url, board_id=BOARD, key=KEY, epoch_file=tmp_path / "gw.epoch") as s:
            assert s.hello().model_sha256 == hashlib.sha256(new).digest()
            for img in imgs:
                x = quantize(img, float(h["in_scale"]), int(h["in_zp"])).reshape(-1)
                r = s.infer(x.tobytes(), timeout=10.0)
                assert r.pairs == result_pairs(eng.run(x).reshape(-1), 3)
                assert r.compute_us == int(sim.run(x.reshape(28, 28, 1))[1] / 100)
    finally:
        p.terminate()
        p.wait(10)
