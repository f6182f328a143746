"""The live demo's deployment: linux and mcu boards for every variant of a run, plus the
optional kinds (pynq, qemu), written as ``deploy.toml`` with a fresh key beside it."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Sequence
from pathlib import Path

from vp_edge.deployment import deployment_toml

MCU_PROFILES = ("cortex-m4", "esp32-s3")


def free_udp_port() -> int:
    """A loopback UDP port free right now (for an emulated board's link)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_deployment(
    out: Path, run: Path, boards: list[dict], deadline_ms: float, k: int = 2, fresh_key: bool = True
) -> Path:
    """``out/deploy.toml`` over ``run`` with ``boards`` and a key file beside it (a new one, or
    with ``fresh_key=False`` the one already there, which running boards may hold); its path."""
    out.mkdir(parents=True, exist_ok=True)
    key = out / "deploy.key"
    if fresh_key or not key.exists():
        key.write_text(secrets.token_hex(16) + "\n")
    top = {
        "run": str(Path(run).resolve()),
        "key_file": "deploy.key",
        "k": k,
        "rule": "reference",
        "deadline_ms": deadline_ms,
        "heartbeat_ms": 500,
    }
    path = out / "deploy.toml"
    path.write_text(deployment_toml(top, boards))
    return path


def _mcu_profile(card: dict, i: int) -> str | None:
    """A microcontroller profile the variant fits (preferring variety), or None."""
    from boards.profiles import PROFILES

    for name in MCU_PROFILES[i % 2 :] + MCU_PROFILES[: i % 2]:
        p = PROFILES[name]
        if card["arena_bytes"] <= p.arena_limit and card["tflite_bytes"] <= p.model_limit:
            return name
    return None


def write_live_deployment(
    run: Path,
    out: Path,
    deadline_ms: float = 500,
    k: int = 2,
    extra: dict[str, str] | None = None,
    qemu_profile: str = "cortex-m4",
    linux_kernels: Sequence[str] = ("xnnpack",),
) -> Path:
    """A deployment of >= 4 boards: half linux (UDP, LiteRT kernels taken in turn from
    ``linux_kernels``), half mcu (pty); every variant placed; then one board per ``extra``
    kind ({kind: variant}: pynq over UDP, qemu behind a pty)."""
    boards = _core_boards(run, linux_kernels)
    for kind, v in (extra or {}).items():
        i = len(boards) + 1
        link = f"pty://q{i}" if kind == "qemu" else f"udp://127.0.0.1:{free_udp_port()}"
        boards.append(
            {
                "id": i,
                "name": f"{kind[0]}{i}" if kind == "qemu" else f"pynq{i}",
                "kind": kind,
                "link": link,
                "variant": v,
                "profile": qemu_profile if kind == "qemu" else "pynq-z2",
            }
        )
    return write_deployment(out, run, boards, deadline_ms, k)


def _core_boards(run: Path, linux_kernels: Sequence[str]) -> list[dict]:
    """An even number (>= 4) of boards, variants in turn: the first half linux, the second
    mcu where the variant fits a microcontroller profile (else linux too)."""
    from vp_edge.evaluate import load_cards
    from vp_edge.train import load_run_family

    family = load_run_family(run)
    cards = load_cards(run, family)
    variants = [v.name for v in family.variants]
    total = max(4, len(variants) + 2)
    total += total % 2
    boards = []
    for i in range(total):
        v = variants[i % len(variants)]
        profile = _mcu_profile(cards[v], i) if i >= total // 2 else None
        kind = "mcu" if profile else "linux"
        name = f"{'m' if profile else 'pi'}{i + 1}"
        link = f"pty://{name}" if profile else f"udp://127.0.0.1:{free_udp_port()}"
        boards.append(
            {
                "id": i + 1,
                "name": name,
                "kind": kind,
                "link": link,
                "variant": v,
                "profile": profile or "raspberry-pi-4",
            }
        )
        if kind == "linux":
            boards[-1]["kernels"] = linux_kernels[i % len(linux_kernels)]
    return boards
