"""What is attached and what is emulated: serial ports, and the boards of deployments.

Serial ports come from pyserial's ``list_ports`` (as ``pio device list`` and esptool show
them). Emulated boards are read from a deployment's state folder (the ready file each board
writes once it serves: pid, link, pty), so listing them sends nothing. ``probe_hello`` asks a
board for its HELLO over the wire with the deployment's key and counter epoch file, as a sender
of its own: a gateway already running for that deployment keeps its replay window at the board
(docs/protocol.md §4) and is not disturbed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from vp_edge.deployment import BoardSpec, Deployment


def serial_ports() -> list[dict]:
    """Every serial port pyserial sees: device, description, hardware id (USB VID:PID)."""
    try:
        from serial.tools import list_ports
    except ImportError:
        return []
    return [
        {"device": p.device, "description": p.description, "hwid": p.hwid}
        for p in sorted(list_ports.comports(), key=lambda p: p.device)
    ]


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ready_info(dep: Deployment, b: BoardSpec) -> dict:
    """The ready file of an emulated board ({} when it never started)."""
    try:
        return json.loads((dep.state_dir / "ready" / f"{b.name}.json").read_text())
    except (OSError, ValueError):
        return {}


def board_url(dep: Deployment, b: BoardSpec, info: dict | None = None) -> str:
    """Where to reach a board from this host: through the running gateway's relay when that
    gateway holds the board's serial line, its pty device when emulated, else its link."""
    from firmware_bridge.transport.relay import serial_relay

    if relay := serial_relay(b.link, dep.state_dir):
        return relay
    info = ready_info(dep, b) if info is None else info
    return info.get("pty") or b.link


def probe_hello(dep: Deployment, b: BoardSpec, url: str, timeout: float = 0.5) -> dict:
    """The board's HELLO (kind, k, classes, input bytes, model hash, variant) or the error."""
    from firmware_bridge.protocol.session import BoardSession

    try:
        with BoardSession(
            url,
            board_id=b.id,
            key=dep.board_keys,
            timeout=timeout,
            tries=3,
            epoch_file=dep.epoch_file,
        ) as s:
            h = s.hello()
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}".splitlines()[0][:200]}
    return {
        "kind": getattr(h.board_kind, "name", str(h.board_kind)).lower(),
        "k": h.k,
        "num_classes": h.num_classes,
        "input_bytes": h.input_bytes,
        "model_sha256": h.model_sha256.hex(),
        "variant": h.variant,
        "max_frame": h.max_frame,
    }


def deployment_boards(dep: Deployment, probe: bool = False) -> list[dict]:
    """Each board of ``dep``: its spec, whether its emulator runs, and (``probe``) its HELLO."""
    rows = []
    for b in dep.boards:
        info = ready_info(dep, b)
        row = {
            "deployment": str(dep.path),
            "name": b.name,
            "id": b.id,
            "kind": b.kind,
            "variant": b.variant,
            "runtime": b.runtime,
            "link": b.link,
            "pty": info.get("pty"),
            "pid": info.get("pid"),
            "running": pid_alive(info.get("pid")),
        }
        if probe:
            row["hello"] = probe_hello(dep, b, board_url(dep, b, info))
        rows.append(row)
    return rows


def find_deployments(folder: Path) -> list[Path]:
    """TOML files in ``folder`` that declare boards (what ``vp-edge devices`` lists by default)."""
    out = []
    for f in sorted(folder.glob("*.toml")):
        try:
            if "[[boards]]" in f.read_text(errors="replace"):
                out.append(f)
        except OSError:
            continue
    return out


def list_devices(files: list[Path] | None, probe: bool = False, folder: Path | None = None) -> dict:
    """``vp-edge devices``: serial ports, and every board of ``files`` (default: the deployment
    files of ``folder``, the current one). Each file is checked as 'emulate' and 'gateway' check
    it (they would refuse it) and its state folder made, where the ready files are read."""
    from vp_edge.deployment import load_deployment

    ports = serial_ports()
    boards = []
    for f in files or find_deployments(folder or Path.cwd()):
        dep = load_deployment(f)
        dep.make_state_dir()
        boards += deployment_boards(dep, probe=probe)
    return {"serial_ports": ports, "boards": boards}


def heartbeat(session, timeout: float = 0.5) -> dict:
    """One HEARTBEAT on request: the board's uptime and its own frame and inference counters."""
    from firmware_bridge.errors import BridgeError
    from firmware_bridge.protocol import Heartbeat, MsgType, Probe

    try:
        f = session.request(Probe(MsgType.HEARTBEAT), (Heartbeat,), timeout=timeout)
    except BridgeError as e:  # a silent board is what a monitor is for: report, go on
        return {"error": str(e)}
    if not isinstance(f.msg, Heartbeat):
        return {"error": f"board answered PROBE with {getattr(f.msg, 'status', f.msg)}"}
    m = f.msg
    return {
        "uptime_s": m.uptime_s,
        "rx_ok": m.rx_ok,
        "rx_dropped": m.rx_dropped,
        "tx": m.tx,
        "inferences": m.inferences,
        "errors": m.errors,
    }


class LogTail:
    """New lines of a growing log file (an emulated board's stderr), from where it ends now."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.pos = path.stat().st_size if path is not None and path.exists() else 0

    def lines(self) -> list[str]:
        if self.path is None or not self.path.exists():
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self.pos)
            data = fh.read()
        end = data.rfind(b"\n") + 1  # whole lines only; the rest comes next time
        self.pos += end
        return data[:end].decode(errors="replace").splitlines()
