"""Emulated boards that are not ``vp-edge board serve``: the PYNQ daemon and the QEMU firmware.

``pynq``: ``boards.pynq.emulator_command`` in ``.venv-pynq`` (pynq pins numpy<2, so it cannot
share the main environment); it is up once its UDP port is bound. ``qemu``: the board firmware
on a Cortex-M4 in QEMU, booted with the deployment's key and board id, then loaded with the
variant's .vpw by ``vp-edge flash``'s library function (the verified LOAD session over the
UART pty) and only then published as ``pty://NAME``, so the gateway never shares the UART with
the flash client. Both artefacts are .vpw files next to the run's .tflite
(``converters.vpw_run.ensure_vpw``).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boards.errors import BoardError
from converters.vpw_run import ensure_vpw
from firmware_bridge.protocol.keys import BoardKeys, derive_board_key
from firmware_bridge.transport import parse_link, pty_path

if TYPE_CHECKING:  # what boards need of a deployment (vp_edge.deployment's classes fit it)
    from boards.contract import BoardSpecLike as BoardSpec
    from boards.contract import DeploymentLike as Deployment

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 2  # inferences before the board is published: the first ones are slower


def firmware_target(profile: str | None) -> str:
    """The QEMU firmware target a qemu board of ``profile`` runs (its profile's firmware target
    when QEMU emulates it, e.g. stm32f405 on netduinoplus2; else the Cortex-M4 mps2-an386)."""
    from boards.profiles import PROFILES
    from firmware_bridge.firmware.targets import get_target

    p = PROFILES.get(profile or "")
    if p and p.firmware_target and get_target(p.firmware_target).qemu_machine:
        return p.firmware_target
    return "mps2-an386"


def firmware_misfit(vpw: bytes, target: str = "mps2-an386") -> str | None:
    """Why the firmware would refuse this .vpw (slot, arena, input limits), or None."""
    from converters.vpw_format import read_vpw
    from firmware_bridge.firmware.targets import get_target

    t = get_target(target)
    h = read_vpw(vpw).header
    for what, need, have in (
        ("model", len(vpw), t.slot_size),
        ("arena", h["arena_size"], t.arena),
        ("input", h["in_size"], t.input_max),
    ):
        if int(need) > have:
            return f"its {what} needs {int(need):,} bytes, the firmware has {have:,}"
    return None


def pynq_python() -> Path:
    """The interpreter of the PYNQ environment (``VP_EDGE_PYNQ_PYTHON`` overrides)."""
    from boards.pynq import PYNQ_VENV

    return Path(os.environ.get("VP_EDGE_PYNQ_PYTHON") or PYNQ_VENV / "bin" / "python")


def pynq_missing() -> str | None:
    """Why a pynq board cannot be emulated here, or None."""
    py = pynq_python()
    return (
        None
        if py.exists()
        else f"{py} is missing; 'make setup' builds .venv-pynq (scripts/setup.d/40-pynq-venv.sh)"
    )


def qemu_missing() -> str | None:
    """Why a qemu board cannot be emulated here, or None."""
    from firmware_bridge.firmware.qemu import missing_tools

    tools = missing_tools("qemu")
    return (
        f"needs {', '.join(tools)} ('make setup' installs them via "
        "scripts/setup.d/20-toolchains.sh)"
        if tools
        else None
    )


def pynq_fabric(model: bytes | None = None) -> tuple[str, str]:
    """(fabric, why) behind ``vp_top`` on emulated PYNQ boards: ``VP_PYNQ_FABRIC`` when set
    (``engine``: the C engine; ``rtl``: the overlay's Verilated RTL, fpga/), else ``rtl`` when its
    simulator is built or can be built here (Amaranth + Verilator; the first build takes
    minutes and is cached) and takes ``model``, else ``engine``, saying why. The PYNQ
    environment cannot build it (no Amaranth there), so the emulation builds it first."""
    asked = os.environ.get("VP_PYNQ_FABRIC", "")
    if asked not in ("", "engine", "rtl"):
        raise BoardError(f"VP_PYNQ_FABRIC={asked!r}: known fabrics are engine and rtl")
    if asked == "engine":
        return "engine", "VP_PYNQ_FABRIC=engine"
    from fpga.errors import FpgaError
    from fpga.sim import build_simulator

    try:
        lib = build_simulator()
    except FpgaError as e:
        if asked == "rtl":
            raise BoardError(f"VP_PYNQ_FABRIC=rtl, but the overlay simulator: {e}") from None
        return "engine", f"the overlay's RTL simulator is not available here ({e})"
    if model is not None:  # a variant the overlay refuses runs on the engine, saying why
        from fpga.program import read_program

        try:
            read_program(model)
        except FpgaError as e:
            if asked == "rtl":
                raise BoardError(f"VP_PYNQ_FABRIC=rtl, but the overlay refuses it: {e}") from None
            return "engine", f"the overlay cannot run this model ({e})"
    return "rtl", f"the overlay's Verilated RTL ({lib.name})"


def pynq_argv(dep: Deployment, b: BoardSpec, key: Path | None) -> list[str]:
    """The simulated PYNQ daemon for board ``b``, in .venv-pynq (a clear error without it)."""
    from boards.pynq import emulator_command

    if why := pynq_missing():
        raise BoardError(f"board {b.name}: cannot emulate a pynq board: {why}")
    if parse_link(b.link).scheme != "udp":
        raise BoardError(f"board {b.name}: an emulated pynq board needs udp://127.0.0.1:PORT")
    vpw, k = dep.board_model(b, ".vpw")
    if dep.strategy == "vp":
        vpw = ensure_vpw(dep.run, b.variant)
    return emulator_command(
        vpw, b.link, b.id, key, k=k, python=pynq_python(), model_dir=slots_dir(dep, b)
    )


def slots_dir(dep: Deployment, b: BoardSpec) -> Path:
    """The emulated board's two model slots: what ``vp-edge flash`` writes (kept over a
    restart, like a real board's flash; a new emulation starts from the run's model)."""
    return dep.state_dir / "slots" / b.name


def udp_bound(url: str) -> bool:
    """True once something has bound the board's UDP port (the daemon is serving)."""
    spec = parse_link(url)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((spec.host, spec.port))
        except OSError as e:
            return e.errno == errno.EADDRINUSE
    return False


def write_ready_info(path: Path, info: dict) -> None:
    """The same ready file a board daemon writes (pid, link, pty), plus kind-specific facts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info) + "\n")
    os.replace(tmp, path)


def cache_dir() -> Path:
    """Builds made for emulation (and their lock files) go to the user's cache, never into the
    installed package: $VP_EDGE_CACHE_DIR, else $XDG_CACHE_HOME/vp-edge, else ~/.cache/vp-edge."""
    if given := os.environ.get("VP_EDGE_CACHE_DIR"):
        return Path(given)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vp-edge"


def firmware_elf(k: int, heartbeat_ms: int, target: str = "mps2-an386") -> Path:
    """The QEMU firmware built for the deployment's k and heartbeat (FW_K, FW_HEARTBEAT_MS)."""
    from firmware_bridge.firmware.qemu import FW_DIR, build

    tree = hashlib.sha256(str(FW_DIR).encode()).hexdigest()[:8]  # one build per installed copy
    out = cache_dir() / f"firmware-{tree}-{target}-k{k}-hb{heartbeat_ms}"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:  # two emulators must not run make in one folder
        fcntl.flock(lock, fcntl.LOCK_EX)
        return build(target, build_dir=out, defs=f"-DFW_K={k} -DFW_HEARTBEAT_MS={heartbeat_ms}")


class QemuEmulator:
    """One firmware board in QEMU: boot, flash in a thread (boards start in parallel), publish."""

    def __init__(self, dep: Deployment, b: BoardSpec, ready: Path, log: Path) -> None:
        self.dep, self.spec, self.ready, self.log = dep, b, ready, log
        self.error: str | None = None
        self.board: Any = None  # firmware_bridge.firmware.qemu's FirmwareBoard once started
        self.elf: Path | None = None

    @property
    def proc(self):
        return self.board.proc

    def start(self) -> None:
        from firmware_bridge.firmware.qemu import start_qemu

        if parse_link(self.spec.link).scheme != "pty":
            raise BoardError(f"board {self.spec.name}: an emulated qemu board needs pty://NAME")
        if why := qemu_missing():
            raise BoardError(f"board {self.spec.name}: cannot emulate a qemu board: {why}")
        self.vpw = ensure_vpw(self.dep.run, self.spec.variant).read_bytes()
        self.target = firmware_target(self.spec.profile)
        if why := firmware_misfit(self.vpw, self.target):
            raise BoardError(
                f"board {self.spec.name}: variant {self.spec.variant} does not fit "
                f"the {self.target} firmware: {why}"
            )
        self.elf = firmware_elf(self.dep.k, round(self.dep.heartbeat_s * 1000), self.target)
        storage = self.dep.state_dir / "flash" / f"{self.spec.name}.bin"
        if self.target.startswith("stm32"):
            self._preflash(storage)
        own = None if self.dep.key is None else derive_board_key(self.dep.key, self.spec.id)
        self.board = start_qemu(
            storage, board_id=self.spec.id, key=own, elf=self.elf, target=self.target
        )
        self._log_lines(self.board.log)
        threading.Thread(target=self._drain, daemon=True, name=f"qemu-{self.spec.name}").start()
        threading.Thread(target=self._load, daemon=True, name=f"flash-{self.spec.name}").start()

    def _preflash(self, storage: Path) -> None:
        """QEMU has no STM32F4 flash interface: write the model into the storage file through
        the same flash driver on a host-stm32f4 board (same layout); QEMU then boots with it."""
        from firmware_bridge.firmware.qemu import start_host
        from firmware_bridge.flash import flash

        with start_host(
            storage, board_id=self.spec.id, key=self.dep.key, target="host-stm32f4"
        ) as host:
            rep = flash(
                host.url,
                self.vpw,
                board_id=self.spec.id,
                key=self.dep.key,
                epoch_file=self.dep.epoch_file,
            )
        self._log_lines([f"preflash (host-stm32f4): {json.dumps(rep.to_dict())}"])

    def _log_lines(self, lines: list[str]) -> None:
        with open(self.log, "a") as fh:
            fh.writelines(f"{ln}\n" for ln in lines)

    def _drain(self) -> None:
        """Keep QEMU's stdout from filling its pipe (and blocking the board); log it."""
        fd = self.board.proc.stdout.fileno()
        os.set_blocking(fd, True)
        try:
            while chunk := os.read(fd, 4096):
                with open(self.log, "ab") as fh:
                    fh.write(chunk)
        except OSError:
            pass

    def _load(self) -> None:
        """Flash the .vpw unless the board already runs it (READBACK), then publish the UART."""
        from firmware_bridge.flash import flash
        from firmware_bridge.protocol.session import BoardSession

        url, sha = self.board.url, hashlib.sha256(self.vpw).digest()
        keys = None if self.dep.key is None else BoardKeys(self.dep.key)
        epoch = self.dep.epoch_file
        try:
            with BoardSession(
                url, board_id=self.spec.id, key=keys, epoch_file=epoch, timeout=1.0, tries=10
            ) as s:
                rb = s.readback()
                if rb.status == 0 and rb.sha256 == sha:
                    report = {"skipped": "the board already runs this .vpw (READBACK)"}
                else:
                    report = flash(
                        url,
                        self.vpw,
                        board_id=self.spec.id,
                        key=keys,
                        epoch_file=epoch,
                        timeout=1.0,
                        session=s,
                    ).to_dict()
                zeros = bytes(int(s.hello().input_bytes))
                for _ in range(WARMUP):  # QEMU translates the engine's code on first use
                    s.infer(zeros)
        except Exception as e:
            self.error = f"flashing {self.spec.variant}.vpw failed: {type(e).__name__}: {e}"
            self._log_lines([self.error])
            return
        self._log_lines([f"flash: {json.dumps(report)}"])
        pub = pty_path(self.spec.name, self.dep.pty_dir)
        pub.parent.mkdir(parents=True, exist_ok=True)
        tmp = pub.with_suffix(".tmp")
        tmp.write_text(url + "\n")
        os.replace(tmp, pub)
        write_ready_info(
            self.ready,
            {
                "pid": self.proc.pid,
                "board_id": self.spec.id,
                "link": self.spec.link,
                "pty": url,
                "flash": report,
                "elf": str(self.elf),
                "target": self.target,
            },
        )

    def close(self) -> None:
        if self.board is not None:
            self.board.stop()
