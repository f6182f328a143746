"""``vp-edge emulate`` keeps the surviving boards serving when one dies (and restarts on ask)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

from boards.emulation import Emulation
from vp_edge.deployment import parse_deployment


def _dep(tmp_path: Path):
    boards = [
        {
            "id": i,
            "name": f"b{i}",
            "kind": "linux",
            "link": f"udp://127.0.0.1:{5900 + i}",
            "variant": "t16",
        }
        for i in (1, 2, 3)
    ]
    return parse_deployment({"run": "run", "insecure": True, "boards": boards}, tmp_path)


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def _emulation(tmp_path: Path) -> Emulation:
    emu = Emulation(_dep(tmp_path))
    for b in emu.dep.boards:
        emu.procs[b.name] = _sleeper()
        (emu.dep.state_dir / "logs" / f"{b.name}.log").write_text(f"{b.name} serving\n")
    return emu


def test_survivors_keep_serving_until_all_are_gone(tmp_path: Path) -> None:
    emu = _emulation(tmp_path)
    said: list[str] = []
    stop = threading.Event()
    result: list[bool] = []
    t = threading.Thread(
        target=lambda: result.append(emu.supervise(stop, False, said.append, poll_s=0.05))
    )
    try:
        t.start()
        emu.procs["b2"].send_signal(signal.SIGKILL)
        emu.procs["b2"].wait()
        t.join(1.0)
        assert t.is_alive(), "one dead board must not end the emulation"
        assert emu.alive() == {"b1": True, "b2": False, "b3": True}
        assert any("board b2 exited (killed by SIGKILL)" in s and "2 of 3" in s for s in said)
        for name in ("b1", "b3"):
            emu.procs[name].kill()
        t.join(5.0)
        assert not t.is_alive() and result == [False]  # every board gone: not a stop request
    finally:
        stop.set()
        emu.stop()


def test_restart_brings_a_dead_board_back_and_stop_ends(tmp_path: Path) -> None:
    emu = _emulation(tmp_path)
    restarted: list[str] = []

    def restart(name: str, timeout: float = 60.0) -> None:
        restarted.append(name)
        emu.procs[name] = _sleeper()

    emu.restart = restart  # the real one starts a board daemon; here a stand-in process
    said: list[str] = []
    stop = threading.Event()
    result: list[bool] = []
    t = threading.Thread(
        target=lambda: result.append(emu.supervise(stop, True, said.append, poll_s=0.05))
    )
    try:
        t.start()
        emu.procs["b1"].kill()
        for _ in range(100):  # the restart is recorded before it is reported: wait for both
            if restarted and "board b1 restarted" in said:
                break
            t.join(0.05)
        assert restarted == ["b1"] and "board b1 restarted" in said
        assert all(emu.alive().values())
        stop.set()
        t.join(5.0)
        assert result == [True]
    finally:
        stop.set()
        emu.stop()
