"""What ``vp-edge flash`` needs before a byte moves: the board (from a deployment or a URL) and
a local check that the board will accept the artefact.

A deployment's board is flashed with the deployment's own facts: its link (``pty://NAME``
resolved through the emulator's pty folder, ``serial:///dev/X?baud=N`` to the device and rate),
board id, key, and the counter epoch file the gateway uses for that deployment
(``STATE_DIR/gateway.epoch``), so every gateway-side sender of a deployment has an epoch of
its own (docs/protocol.md §4). The card of what is flashed is registered in the deployment's state
folder, so the running gateway reads the board's answers under it once the board's HELLO names
the new model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from converters.rundir import RunDir
from firmware_bridge.protocol.keys import KeySource
from vp_edge.deployment import BoardSpec, Deployment
from vp_edge.errors import ConversionError, VpEdgeError


class FlashUsageError(VpEdgeError):
    """Bad arguments, an unreadable artefact, or one the board would refuse (exit code 2)."""


@dataclass(frozen=True)
class FlashTarget:
    """Where and as whom to flash: what ``firmware_bridge.flash`` opens and signs with."""

    url: str
    board_id: int
    key: KeySource
    epoch_file: Path | None
    baud: int = 115200
    spec: BoardSpec | None = None
    dep: Deployment | None = None


def session_url(url: str, pty_dir: Path | None = None) -> tuple[str, int | None]:
    """A deployment link as the URL the flash session opens, and its baud when it names one."""
    from firmware_bridge.transport import parse_link, resolve_pty

    if "://" not in url:
        return url, None  # a device path such as /dev/ttyACM0
    spec = parse_link(url)
    baud = spec.baud if "baud" in spec.options else None
    if spec.scheme == "pty":
        if pty_dir is None:
            raise FlashUsageError(
                f"{url} names an emulated board of a deployment: flash it "
                "with --deployment FILE --board NAME"
            )
        return resolve_pty(spec, pty_dir), baud
    if spec.scheme == "serial":
        return spec.path, baud
    return url, baud


def deployment_target(dep: Deployment, which: str) -> FlashTarget:
    """Board ``which`` (name, id or link) of ``dep``, with the deployment's key and epoch."""
    spec = next((b for b in dep.boards if which == b.link), None) or dep.board(which)
    from firmware_bridge.transport.relay import serial_relay

    relay = serial_relay(spec.link, dep.state_dir)
    if relay is not None:  # a running gateway holds the board's serial line: go through it
        return FlashTarget(relay, spec.id, dep.board_keys, dep.epoch_file, 115200, spec, dep)
    url, baud = session_url(spec.link, dep.pty_dir)
    if baud is None and spec.link.startswith("pty://"):
        from boards.profiles import get_profile

        baud = get_profile(spec.profile).baud
    return FlashTarget(url, spec.id, dep.board_keys, dep.epoch_file, baud or 115200, spec, dep)


def _is_vpw(data: bytes) -> bool:
    return data[:4] == b"VPW1"


def _is_tflite(data: bytes) -> bool:
    return data[4:8] == b"TFL3"


def check_artifact(data: bytes, path: str, target: FlashTarget | None = None) -> list[str]:
    """Refuse (FlashUsageError, with how to fix it) what the board would refuse after the
    transfer; return warnings (e.g. the gateway will not accept the board's new model)."""
    if _is_vpw(data):
        _check_vpw(data, path)
    elif not _is_tflite(data):
        raise FlashUsageError(f"{path} is neither a .vpw (VPW1) nor a .tflite (TFL3) model")
    else:
        _check_tflite(data, path)
    if target is None or target.spec is None:
        return []
    return _check_for_board(data, path, target.spec, target.dep)


def _check_vpw(data: bytes, path: str) -> None:
    from converters.vpw_format import read_vpw

    try:
        model = read_vpw(data)
    except ConversionError as e:
        raise FlashUsageError(
            f"{path}: {e}; pack it again with this version's 'vp-edge pack'"
        ) from None
    if model.golden_input is None:
        raise FlashUsageError(
            f"{path} has no golden self-test section, and boards refuse a "
            ".vpw without one after the transfer; pack it again without "
            "--no-golden ('vp-edge pack MODEL.tflite')"
        )
    from firmware_bridge.engine import Engine
    from firmware_bridge.errors import BridgeError

    try:
        passed = Engine(data).self_test()
    except BridgeError as e:
        raise FlashUsageError(f"{path}: the C engine cannot load it ({e})") from None
    if not passed:
        raise FlashUsageError(
            f"{path} fails its own golden self-test in the C engine (boards "
            "run the same check and refuse it); pack it again from the .tflite"
        )


def _check_tflite(data: bytes, path: str) -> None:
    """A .tflite a board can load: it parses, and its input and output are int8."""
    from converters.tflite import read_graph

    try:
        g = read_graph(data)
    except Exception as e:
        raise FlashUsageError(
            f"{path}: not a readable .tflite ({e}); convert it again ('vp-edge convert')"
        ) from None
    if (g.input_dtype, g.output_dtype) != ("int8", "int8"):
        raise FlashUsageError(
            f"{path}: input/output are {g.input_dtype}/{g.output_dtype}; "
            "boards run full-int8 models ('vp-edge convert --run RUN')"
        )


def _check_for_board(data: bytes, path: str, spec: BoardSpec, dep: Deployment | None) -> list:
    """The artefact's type, size and arena against the board's kind and profile."""
    from boards.profiles import check_fit, get_profile
    from boards.registry import get_kind

    runner = get_kind(spec.kind).runner
    wants_vpw = runner in ("engine", "pynq")
    if wants_vpw != _is_vpw(data):
        want = ".vpw ('vp-edge pack MODEL.tflite')" if wants_vpw else "full-int8 .tflite"
        raise FlashUsageError(
            f"board {spec.name} is a {spec.kind} board and runs a {want}; {path} is not one"
        )
    arena = _arena(data, path, wants_vpw)
    try:
        check_fit(get_profile(spec.profile), spec.variant, arena, len(data))
        if spec.kind == "qemu":
            from boards.emulators import firmware_misfit

            if why := firmware_misfit(data):
                raise FlashUsageError(f"board {spec.name}'s firmware refuses {path}: {why}")
    except FlashUsageError:
        raise
    except VpEdgeError as e:
        raise FlashUsageError(f"board {spec.name} would refuse {path}: {e}") from None
    return _gateway_warnings(data, spec, dep)


def _arena(data: bytes, path: str, vpw: bool) -> int | None:
    """The arena a model needs: the .vpw's planned one, or the card next to a .tflite."""
    if vpw:
        from converters.vpw_format import read_vpw

        return int(read_vpw(data).header["arena_size"])
    from converters.card import read_card

    card = Path(path).with_suffix(".json")
    if card.exists():
        c = read_card(card)
        if c.get("tflite_sha256") == hashlib.sha256(data).hexdigest():
            return c.get("arena_bytes")
    return None


def deployment_card(data: bytes, path: str, target: FlashTarget | None) -> dict | None:
    """The card the deployment's gateway will read this artefact's answers with: the card
    beside the file or one the deployment already knows by the artefact's hash. Refused
    (exit 2, before any transfer) when there is none or its classes are not the run's: the
    board would serve answers nobody can vote with. None without a deployment."""
    if target is None or target.dep is None or target.spec is None:
        return None
    from vp_edge.cards import CardIndex, card_beside, sha256_hex
    from vp_edge.evaluate import load_cards
    from vp_edge.train import load_run_family, run_class_names

    dep, spec = target.dep, target.spec
    family = load_run_family(dep.run)
    card = card_beside(data, path) or CardIndex(
        dep.run, dep.state_dir, load_cards(dep.run, family)
    ).find(sha256_hex(data))
    if card is None:
        raise FlashUsageError(
            f"{path}: no model card describes these bytes (a NAME.json beside it with this "
            f"hash, or a model of {dep.run}), so the gateway could not read board {spec.name}'s "
            "answers: a truncated, altered or float model, or its card is missing; convert it "
            "again ('vp-edge convert') and flash the file from the run's models/ folder"
        )
    names = list(run_class_names(dep.run, family))
    if list(card.get("class_names", names)) != names:
        raise FlashUsageError(
            f"{path}: its classes {card['class_names']} are not the "
            f"deployment's {names} (answers would be read under the wrong "
            "labels)"
        )
    return card


def _gateway_warnings(data: bytes, spec: BoardSpec, dep: Deployment | None) -> list[str]:
    """What changes for the gateway: a board that will answer as another variant."""
    if dep is None:
        return []
    card = RunDir(dep.run).card(spec.variant)
    if not card.exists():
        return []
    from converters.card import read_card

    if read_card(card).get("tflite_sha256") == hashlib.sha256(data).hexdigest():
        return []
    vpw = RunDir(dep.run).vpw(spec.variant)
    if vpw.exists() and hashlib.sha256(vpw.read_bytes()).digest() == hashlib.sha256(data).digest():
        return []
    return [
        f"this is not the model of variant {spec.variant} in {dep.run}: the gateway will "
        f"vote with board {spec.name} under this model's own card"
    ]
