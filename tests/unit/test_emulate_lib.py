"""``vp-edge emulate``'s loop and exit codes at the library level (no process started)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

import boards.emulation as emulation


class FakeEmulation:
    def __init__(self, stopped: bool) -> None:
        self.stopped, self.calls = stopped, []

    def supervise(self, stop: threading.Event, restart: bool, say: object) -> bool:
        self.calls.append(("supervise", restart))
        return self.stopped

    def stop(self) -> None:
        self.calls.append(("stop",))


def _dep(tmp_path: Path) -> SimpleNamespace:
    board = SimpleNamespace(name="pi", kind="linux", variant="v0", profile="rpi4")
    dep = SimpleNamespace(boards=[board], state_dir=tmp_path)
    ready = emulation.ready_path(dep, board)  # type: ignore[arg-type]
    ready.parent.mkdir(parents=True, exist_ok=True)
    ready.write_text(json.dumps({"pid": 7, "link": "udp://127.0.0.1:1", "pty": None}))
    return dep


@pytest.mark.parametrize(("stopped", "code"), [(True, 130), (False, 3)])
def test_exit_code_and_clean_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stopped: bool, code: int
) -> None:
    emu = FakeEmulation(stopped)
    monkeypatch.setattr(emulation, "start_emulation", lambda dep, timeout: emu)
    shown: list[dict] = []
    said: list[str] = []
    dep = _dep(tmp_path)
    rc = emulation.emulate(dep, threading.Event(), shown.append, said.append, restart=True)  # type: ignore[arg-type]
    assert rc == code
    assert emu.calls == [("supervise", True), ("stop",)]
    assert shown == [
        {
            "pi": {
                "pid": 7,
                "link": "udp://127.0.0.1:1",
                "pty": None,
                "kind": "linux",
                "variant": "v0",
                "profile": "rpi4",
            }
        }
    ]
    assert said == ([] if stopped else ["every board is gone; stopping"])
