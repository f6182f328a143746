"""Emulated boards of a deployment, as real processes: ``start_emulation(dep) -> Emulation``.

A ``linux`` board becomes the real ``vp-edge board serve`` daemon on its loopback UDP port; an
``mcu`` board becomes the same daemon with ``--kind mcu``: tflite-micro with the profile's
arena limit behind a pseudo-terminal, its link throttled to the profile's baud rate. The pty
path of ``pty://NAME`` is published in ``STATE_DIR/pty/NAME.pty``, where the gateway's link
resolver finds it. A ``pynq`` board is the PYNQ daemon on a simulated PYNQ-Z2 in .venv-pynq; a
``qemu`` board is the Cortex-M4 firmware in QEMU, loaded with ``vp-edge flash`` before its pty is
published (boards.emulators). ``Emulation.kill(board)`` is a crash (SIGKILL; for QEMU a power
cut: a restart boots the flashed model from the board's flash file); ``stop()`` a clean shutdown;
``supervise()`` keeps the survivors serving when a board dies (and restarts it if asked).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from boards.emulators import (
    QemuEmulator,
    pynq_argv,
    pynq_fabric,
    slots_dir,
    udp_bound,
    write_ready_info,
)
from boards.errors import BoardError
from boards.registry import get_kind
from firmware_bridge.protocol.keys import derive_board_key
from firmware_bridge.transport import parse_link

if TYPE_CHECKING:  # what boards need of a deployment (vp_edge.deployment's classes fit it)
    from boards.contract import BoardSpecLike as BoardSpec
    from boards.contract import DeploymentLike as Deployment


def board_key_file(dep: Deployment, b: BoardSpec) -> Path | None:
    """Board ``b``'s own key (derived from the deployment's master), in a 0600 file of the
    state dir: a board daemon never sees the master key."""
    if dep.key is None:
        return None
    path = dep.state_dir / "keys" / f"{b.name}.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(derive_board_key(dep.key, b.id).hex() + "\n")
    return path


def board_argv(dep: Deployment, b: BoardSpec, key: Path | None) -> list[str]:
    """The daemon command line that emulates board ``b`` (not ``qemu``: that is QEMU itself)."""
    kind = get_kind(b.kind)
    if b.kind == "pynq":
        return pynq_argv(dep, b, key)
    spec = parse_link(b.link)
    if spec.scheme not in ("udp", "pty") and not (
        spec.scheme in ("mqtt", "mqtts") and b.kind == "linux"
    ):
        raise BoardError(
            f"board {b.name}: cannot emulate a {spec.scheme}:// link; use "
            "udp://127.0.0.1:PORT or mqtt://BROKER/DEPLOYMENT (linux), pty://NAME "
            "(mcu; 'vp-edge bridge' puts it on a broker) in the deployment"
        )
    model, k = dep.board_model(b, ".vpw" if kind.runner == "engine" else ".tflite")
    argv = [
        sys.executable,
        "-m",
        "vp_edge",
        "board",
        "serve",
        "--model",
        str(model),
        "--listen",
        b.link,
        "--board-id",
        str(b.id),
        "--kind",
        b.kind,
        "--k",
        str(k),
        "--variant",
        b.variant,
        "--profile",
        b.profile,
        "--pty-dir",
        str(dep.pty_dir),
        "--epoch-file",
        str(dep.state_dir / "epochs" / f"{b.name}.epoch"),
        "--heartbeat-ms",
        str(dep.heartbeat_s * 1000),
        "--ready-file",
        str(ready_path(dep, b)),
        "--model-dir",
        str(slots_dir(dep, b)),
    ]
    argv += ["--kernels", b.kernels] if b.kernels else []
    return argv + (["--key-file", str(key)] if key else ["--insecure"])


def ready_path(dep: Deployment, b: BoardSpec) -> Path:
    return dep.state_dir / "ready" / f"{b.name}.json"


class Emulation:
    """Running emulated boards: ``kill``, ``restart``, ``stop``; a context manager."""

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep
        self.procs: dict[str, subprocess.Popen] = {}
        self.firmware: dict[str, QemuEmulator] = {}
        #: what runs behind vp_top on each pynq board, and why (``pynq_fabric``)
        self.pynq_fabric: dict[str, tuple[str, str]] = {}
        (dep.make_state_dir() / "logs").mkdir(parents=True, exist_ok=True)

    def start(self, which: str | int) -> None:
        b = self.dep.board(which)
        ready_path(self.dep, b).unlink(missing_ok=True)
        logs = self.dep.state_dir / "logs" / f"{b.name}.log"
        if b.kind == "qemu":
            (self.dep.pty_dir / f"{b.name}.pty").unlink(missing_ok=True)
            fw = QemuEmulator(self.dep, b, ready_path(self.dep, b), logs)
            fw.start()
            self.firmware[b.name], self.procs[b.name] = fw, fw.proc
            return
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        if b.kind == "pynq":  # boards/__init__ loads boards.pynq (via the registries) before
            # runpy runs it as __main__; the second copy only calls serve(), so mute the notice
            env["PYTHONWARNINGS"] = "ignore:'boards.pynq' found in sys.modules:RuntimeWarning"
        argv = board_argv(self.dep, b, board_key_file(self.dep, b))
        if b.kind == "pynq":
            model = Path(argv[argv.index("--model") + 1]).read_bytes()
            self.pynq_fabric[b.name] = pynq_fabric(model)
            env["VP_PYNQ_FABRIC"] = self.pynq_fabric[b.name][0]
        log = open(logs, "ab")
        self.procs[b.name] = subprocess.Popen(
            argv,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=Path(__file__).resolve().parent.parent,
        )
        log.close()

    def _became_ready(self, b: BoardSpec) -> bool:
        """Boards that write no ready file: the PYNQ daemon serves once its port is bound."""
        if b.kind == "pynq" and udp_bound(b.link):
            write_ready_info(
                ready_path(self.dep, b),
                {
                    "pid": self.procs[b.name].pid,
                    "board_id": b.id,
                    "link": b.link,
                    "pty": None,
                    "fabric": self.pynq_fabric.get(b.name, ("engine", ""))[0],
                    "fabric_why": self.pynq_fabric.get(b.name, ("engine", ""))[1],
                },
            )
            return True
        fw = self.firmware.get(b.name)
        if fw is not None and fw.error:
            raise BoardError(f"emulated board {b.name}: {fw.error}")
        return False

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until every running board wrote its ready file; a dead one is an error."""
        end = time.monotonic() + timeout
        for name, p in self.procs.items():
            b = self.dep.board(name)
            while not ready_path(self.dep, b).exists() and not self._became_ready(b):
                if p.poll() is not None:
                    raise BoardError(
                        f"emulated board {name} exited ({p.returncode}): {self._log_tail(name)}"
                    )
                if time.monotonic() > end:
                    raise BoardError(
                        f"emulated board {name} not ready after {timeout:.0f} s; "
                        f"see {self.dep.state_dir / 'logs' / (name + '.log')}"
                    )
                time.sleep(0.05)

    def _log_tail(self, name: str) -> str:
        text = (self.dep.state_dir / "logs" / f"{name}.log").read_text(errors="replace")
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        return lines[-1] if lines else "(no output)"

    def kill(self, which: str | int) -> None:
        """Crash a board (SIGKILL): no goodbye, its link goes dead."""
        b = self.dep.board(which)
        p = self.procs.get(b.name)
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()
        if (fw := self.firmware.pop(b.name, None)) is not None:
            fw.close()
        if parse_link(b.link).scheme == "pty":
            (self.dep.pty_dir / f"{b.name}.pty").unlink(missing_ok=True)

    def restart(self, which: str | int, timeout: float = 60.0) -> None:
        self.kill(which)
        self.start(which)
        self.wait_ready(timeout)

    def alive(self) -> dict[str, bool]:
        return {n: p.poll() is None for n, p in self.procs.items()}

    def supervise(
        self,
        stop: threading.Event,
        restart: bool = False,
        say: Callable[[str], None] = print,
        poll_s: float = 0.5,
    ) -> bool:
        """Keep the survivors serving while boards die: each death is reported once and, with
        ``restart``, the board is started again. Returns True when ``stop`` was set, False
        when every board is gone."""
        gone: set[str] = set()
        while not stop.wait(poll_s):
            for name, ok in self.alive().items():
                if ok or name in gone:
                    continue
                code = self.procs[name].returncode
                left = sum(self.alive().values())
                say(
                    f"board {name} exited ({_exit_text(code)}): {self._log_tail(name)}; "
                    f"{left} of {len(self.procs)} board(s) still serving"
                )
                if restart and not stop.is_set():
                    try:
                        self.restart(name)
                        say(f"board {name} restarted")
                        continue
                    except BoardError as e:
                        say(f"board {name} did not restart: {e}")
                gone.add(name)
                self.kill(name)  # unpublish its pty, close its QEMU
            if not any(self.alive().values()):
                return stop.is_set()
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Clean shutdown (SIGTERM, then SIGKILL after ``timeout``)."""
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        end = time.monotonic() + timeout
        for p in self.procs.values():
            try:
                p.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for fw in self.firmware.values():
            fw.close()

    def __enter__(self) -> Emulation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def check_run_models(dep: Deployment) -> None:
    """Refuse to serve a run whose model files and cards disagree (a re-convert stopped half
    way): every board would vote under another model's card."""
    from converters.card import check_model_file
    from converters.rundir import RunDir

    if dep.strategy != "vp":
        return
    for variant in sorted({b.variant for b in dep.boards}):
        path = RunDir(dep.run).model(variant)
        if path.exists():
            check_model_file(path.read_bytes(), path)


def start_emulation(dep: Deployment, *, wait: bool = True, timeout: float = 90.0) -> Emulation:
    """Start every board of ``dep`` as an emulated process; wait until all serve."""
    check_run_models(dep)
    emu = Emulation(dep)
    try:
        for b in dep.boards:
            shutil.rmtree(slots_dir(dep, b), ignore_errors=True)
            emu.start(b.name)
        if wait:
            emu.wait_ready(timeout)
    except BaseException:
        emu.stop()
        raise
    return emu


def board_infos(dep: Deployment) -> dict[str, dict]:
    """Each started board's ready file (pid, link, pty, a qemu board's flash) with its kind,
    variant and profile: what ``vp-edge emulate`` shows once every board serves."""
    import json

    return {
        b.name: {
            **json.loads(ready_path(dep, b).read_text()),
            "kind": b.kind,
            "variant": b.variant,
            "profile": b.profile,
        }
        for b in dep.boards
    }


def emulate(
    dep: Deployment,
    stop: threading.Event,
    shown: Callable[[dict[str, dict]], None],
    say: Callable[[str], None],
    timeout: float = 90.0,
    restart: bool = False,
) -> int:
    """``vp-edge emulate``: start every board, hand ``shown`` their infos, keep them serving
    until ``stop`` is set (exit code 130, as for Ctrl-C) or every board is gone (3); the boards
    are stopped cleanly either way."""
    emu = start_emulation(dep, timeout=timeout)
    try:
        shown(board_infos(dep))
        stopped = emu.supervise(stop, restart, say)
    finally:
        emu.stop()
    if not stopped:
        say("every board is gone; stopping")
        return 3
    return 130
