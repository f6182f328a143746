"""Deployment files (TOML): which variant runs on which board, over which link, voted how.

Example (paths are relative to the file)::

    run = "runs/a"                 # a converted run directory (vp-edge convert)
    key_file = "deploy.key"        # or: key = "<hex, >= 16 bytes>"   or: insecure = true
    k = 2                          # pairs per RESULT, 1..C/2
    rule = "reference"             # reference | sum | majority
    deadline_ms = 500              # answer with what arrived by then
    heartbeat_ms = 1000            # optional: boards' heartbeat period
    state_dir = ".deploy.state"    # optional: epochs, emulator ptys, ready files
    strategy = "vp"                # optional: vp (voting, default) | mp | cp | lcp | disco;
                                   # not vp: each board's variant names a part of the run's
                                   # strategy.json (vp_edge.strategies), served by the gateway's
                                   # plan driver (vp_edge.gateway.parts)

    [[boards]]
    id = 1                         # board_id on the wire, 0..65535, unique
    name = "pi-1"                  # unique
    kind = "linux"                 # boards.registry.BOARDS
    link = "udp://192.168.1.20:5601"
    variant = "t16"                # a variant of the run's family
    profile = "raspberry-pi-4"     # optional, boards.profiles.PROFILES (default per kind)
    kernels = "xnnpack"            # optional, linux boards: xnnpack (default) | builtin | ref

Errors name the key, e.g. ``deploy.toml: boards[2].link: ...``. Full text: docs/deployment.md.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from converters.rundir import RunDir
from firmware_bridge.errors import KeyFileError
from firmware_bridge.files import KEY_FILE_MAX, TEXT_FILE_MAX, read_limited
from firmware_bridge.protocol import keys
from vp_edge.checks import number_problem
from vp_edge.deployment_boards import (
    BoardSpec,
    check_distinct_links,
    get_key,
    key_error,
    parse_board,
    refuse_unknown,
)
from vp_edge.errors import DeploymentError, VpEdgeError

if TYPE_CHECKING:  # the boards layer's view of a board (BoardSpec fits it)
    from boards.contract import BoardSpecLike

TOP_KEYS = (
    "run",
    "key",
    "key_file",
    "insecure",
    "k",
    "rule",
    "deadline_ms",
    "heartbeat_ms",
    "state_dir",
    "strategy",
    "boards",
)
STRATEGIES = ("vp", "mp", "cp", "lcp", "disco")
LIVE_RULES = ("reference", "sum", "majority")
MIN_KEY = 16
MAX_DEADLINE_MS = 600_000  # ten minutes: beyond that a request is lost, not late
MIN_HEARTBEAT_MS, MAX_HEARTBEAT_MS = 10, 3_600_000  # what 'vp-edge board serve' accepts


@dataclass(frozen=True)
class Deployment:
    """A validated deployment; paths are absolute."""

    run: Path
    key: bytes | None
    k: int
    rule: str
    deadline_s: float
    boards: tuple[BoardSpec, ...]
    state_dir: Path
    heartbeat_s: float = 1.0
    key_file: Path | None = None
    path: Path | None = None
    strategy: str = "vp"

    def part(self, b: BoardSpecLike) -> Any:
        """The strategy part board ``b`` serves (``PartInfo``: name, artefact, reply, k,
        stages); for strategy "vp" there are no parts (DeploymentError)."""
        if self.strategy == "vp":
            raise DeploymentError(f"board {b.name}: strategy vp has variants, not parts")
        from vp_edge.strategies import load_strategy

        parts = {p.name: p for p in load_strategy(self.run).parts}
        if b.variant not in parts:
            raise DeploymentError(
                f"board {b.name}: variant {b.variant!r} is not a part of "
                f"strategy {self.strategy} in {self.run}; parts: "
                f"{', '.join(parts)}"
            )
        return parts[b.variant]

    def board_model(self, b: BoardSpecLike, suffix: str) -> tuple[Path, int]:
        """(model file, k) a board serves: the variant's model (``suffix``) and the
        deployment's k for vp; the part's artefact and k (0: TENSOR) otherwise."""
        if self.strategy == "vp":
            return RunDir(self.run).model(b.variant, suffix), self.k
        part = self.part(b)
        return Path(part.artefact), int(part.k)

    @property
    def epoch_file(self) -> Path:
        """The gateway side's counter epoch: every tool that speaks for the gateway (gateway,
        flash, devices, monitor, emulated QEMU boards) shares it, so boards keep hearing all."""
        return self.state_dir / "gateway.epoch"

    @property
    def board_keys(self) -> keys.BoardKeys | None:
        """The master key as the gateway side holds it: each board's own key derived on use."""
        return None if self.key is None else keys.BoardKeys(self.key)

    def make_state_dir(self) -> Path:
        """Create the state folder (epochs, ptys, ready files), or refuse naming it: every
        command that uses it fails the same way on one that cannot be made (e.g. under /proc)."""
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            where = f"{self.path}: " if self.path else ""
            raise DeploymentError(
                f"{where}state_dir {self.state_dir}: cannot create it "
                f"({e.strerror}); name a writable folder"
            ) from None
        return self.state_dir

    @property
    def pty_dir(self) -> Path:
        return self.state_dir / "pty"

    def board(self, which: str | int) -> BoardSpec:
        """A board by name or id."""
        for b in self.boards:
            if b.name == which or b.id == which or str(b.id) == str(which):
                return b
        names = ", ".join(b.name for b in self.boards)
        raise DeploymentError(f"no board {which!r} in the deployment; boards: {names}")

    def to_dict(self) -> dict:
        return {
            "path": str(self.path) if self.path else None,
            "run": str(self.run),
            "secure": self.key is not None,
            "k": self.k,
            "rule": self.rule,
            "deadline_ms": round(self.deadline_s * 1000, 3),
            "strategy": self.strategy,
            "boards": [vars(b) for b in self.boards],
        }


def parse_key(text: str | bytes, what: str) -> bytes:
    """A key under the one rule of ``firmware_bridge.protocol.keys`` (hex or raw, >= 16 bytes)."""
    try:
        return keys.parse_key(text, what)
    except KeyFileError as e:
        raise DeploymentError(str(e)) from None


def _key(d: dict, base: Path, where: str) -> tuple[bytes | None, Path | None]:
    given = [k for k in ("key", "key_file", "insecure") if k in d]
    if len(given) != 1:
        raise key_error(where, "key", "give exactly one of key (hex), key_file, or insecure = true")
    if "insecure" in d:
        if get_key(d, "insecure", bool, where) is not True:
            raise key_error(where, "insecure", "only 'insecure = true' is meaningful")
        return None, None
    if "key" in d:
        return parse_key(get_key(d, "key", str, where), f"{where}: key"), None
    path = base / get_key(d, "key_file", str, where)
    try:
        data = read_limited(path, KEY_FILE_MAX, f"{where}: key_file {path}")
    except OSError as e:
        raise key_error(where, "key_file", f"cannot read {path}: {e.strerror}") from None
    return parse_key(data, f"{where}: key_file {path}"), path


def parse_deployment(d: dict, base: Path, where: str = "deployment") -> Deployment:
    """Validate a deployment mapping (paths relative to ``base``); no run checks."""
    refuse_unknown(d, TOP_KEYS, where)
    run = (base / get_key(d, "run", str, where)).resolve()
    key, key_file = _key(d, base, where)
    k = get_key(d, "k", int, where, 2)
    rule = get_key(d, "rule", str, where, "reference")
    if rule not in LIVE_RULES:
        raise key_error(
            where, "rule", f"{rule!r} is not a live vote rule; use {', '.join(LIVE_RULES)}"
        )
    deadline = get_key(d, "deadline_ms", (int, float), where, 500)
    beat = get_key(d, "heartbeat_ms", (int, float), where, 1000)
    for name, v, low, high in (
        ("deadline_ms", deadline, 0, MAX_DEADLINE_MS),
        ("heartbeat_ms", beat, MIN_HEARTBEAT_MS, MAX_HEARTBEAT_MS),
    ):
        if problem := number_problem(v, low, high, low_open=low == 0):
            raise key_error(where, name, problem)
    boards_raw = get_key(d, "boards", list, where)
    if not boards_raw:
        raise key_error(where, "boards", "a deployment needs at least one [[boards]] entry")
    boards = tuple(parse_board(b, i, where) for i, b in enumerate(boards_raw))
    for field in ("id", "name"):
        seen: dict = {}
        for i, b in enumerate(boards):
            v = getattr(b, field)
            if v in seen:
                raise key_error(where, f"boards[{i}].{field}", f"{v!r} repeats boards[{seen[v]}]")
            seen[v] = i
    check_distinct_links(boards, where)
    state = base / get_key(d, "state_dir", str, where, f".{Path(where).stem}.state")
    strategy = get_key(d, "strategy", str, where, "vp")
    if strategy not in STRATEGIES:
        raise key_error(
            where, "strategy", f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}"
        )
    return Deployment(
        run,
        key,
        k,
        rule,
        deadline / 1000,
        boards,
        state.resolve(),
        beat / 1000,
        key_file,
        strategy=strategy,
    )


def check_against_run(dep: Deployment, where: str = "deployment") -> None:
    """Variants exist in the run, k fits its classes, and every variant fits its board (for a
    strategy other than vp: every board's variant is a part of the run's strategy)."""
    from boards.profiles import PROFILES, check_fit

    if dep.strategy != "vp":
        _check_parts(dep, where)
        return
    from vp_edge.evaluate import load_cards
    from vp_edge.train import load_run_family
    from vp_edge.vote import check_k

    try:
        family = load_run_family(dep.run)
        cards = load_cards(dep.run, family)
        check_k(dep.k, family.num_classes)
    except VpEdgeError as e:
        key = "k" if "k must" in str(e) else "run"
        raise key_error(where, key, str(e)) from None
    for i, b in enumerate(dep.boards):
        if b.variant not in family.weights():
            raise key_error(
                where,
                f"boards[{i}].variant",
                f"{b.variant!r} is not a variant of "
                f"{dep.run}; known: {', '.join(family.weights())}",
            )
        arena, size = _model_needs(dep, b, cards[b.variant])
        try:
            check_fit(PROFILES[b.profile], b.variant, arena, size)
        except VpEdgeError as e:
            raise key_error(where, f"boards[{i}].profile", str(e)) from None


def _check_parts(dep: Deployment, where: str) -> None:
    """The run's strategy is the deployment's, and every board serves one of its parts."""
    from vp_edge.strategies import load_strategy

    try:
        strategy = load_strategy(dep.run)
    except VpEdgeError as e:
        raise key_error(where, "run", str(e)) from None
    if strategy.name != dep.strategy:
        raise key_error(
            where,
            "strategy",
            f"{dep.strategy!r}, but {dep.run} was trained for "
            f'{strategy.name!r}; set strategy = "{strategy.name}"',
        )
    for i, b in enumerate(dep.boards):
        try:
            dep.part(b)
        except DeploymentError as e:
            raise key_error(where, f"boards[{i}].variant", str(e)) from None


def _model_needs(dep: Deployment, b: BoardSpec, card: dict) -> tuple[int | None, int]:
    """(arena, model bytes) the board needs: the .vpw's own for kinds that run one (pynq,
    qemu), when it exists; else the .tflite's tflite-micro arena and size from the card."""
    from boards.registry import get_kind

    vpw = RunDir(dep.run).vpw(b.variant)
    if get_kind(b.kind).runner in ("engine", "pynq") and vpw.exists():
        from converters.vpw_format import read_vpw

        blob = vpw.read_bytes()
        return int(read_vpw(blob).header["arena_size"]), len(blob)
    return card.get("arena_bytes"), card["tflite_bytes"]


def load_deployment(path: Path, check_run: bool = True) -> Deployment:
    """Read, validate and (by default) check a deployment file against its run."""
    path = Path(path)
    try:
        d = tomllib.loads(read_limited(path, TEXT_FILE_MAX, str(path)).decode("utf-8"))
    except UnicodeDecodeError as e:
        raise DeploymentError(
            f"{path}: not UTF-8 text (byte {e.start}); a deployment file is TOML, saved as UTF-8"
        ) from None
    except OSError as e:
        raise DeploymentError(f"{path}: cannot read deployment file: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise DeploymentError(f"{path}: not valid TOML: {e}") from None
    dep = replace(parse_deployment(d, path.parent.resolve(), str(path)), path=path.resolve())
    if check_run:
        check_against_run(dep, str(path))
    return dep


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def deployment_toml(top: dict, boards: list[dict]) -> str:
    """TOML text for a deployment mapping (the inverse of ``parse_deployment``'s input)."""
    lines = [f"{k} = {_toml(v)}" for k, v in top.items() if k != "boards"]
    for b in boards:
        lines += ["", "[[boards]]"] + [f"{k} = {_toml(v)}" for k, v in b.items()]
    return "\n".join(lines) + "\n"
