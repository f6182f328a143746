"""The fleet to plan for: board classes (kind, profile, link, count), the data, the deadline.

A fleet file is TOML. A deployment file is one too (its boards have ``id``, ``link`` and a
``variant`` the planner ignores), so either can be planned::

    deadline_ms = 100
    k = 2                          # pairs per RESULT
    min_boards = 4                 # optional: fewer feasible boards is an error
    headroom = 0.1                 # optional: share of the deadline the plan keeps free
    input_shape = [28, 28, 1]      # or --input-shape; a deployment has neither: give the flags
    num_classes = 10

    [[boards]]
    name = "f405"                  # boards are named f405-1, f405-2 when count > 1
    kind = "qemu"                  # boards.registry.BOARDS
    profile = "stm32f405"          # boards.profiles.PROFILES (default: the kind's)
    link = "pty://f405"            # optional; udp ports and pty names are numbered per board
    count = 2
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from boards.profiles import PROFILES, Profile
from boards.registry import BOARDS, get_kind
from vp_edge.errors import VpEdgeError

MAX_BOARDS = 64


class PlanError(VpEdgeError):
    """A fleet that cannot be read, or cannot be planned (the message says which board why)."""


@dataclass(frozen=True)
class BoardClass:
    """Boards that share kind, profile and link rate: one planning decision each."""

    name: str
    kind: str
    profile: Profile
    links: tuple[str, ...]  # one per board

    @property
    def count(self) -> int:
        return len(self.links)

    @property
    def baud(self) -> int | None:
        q = parse_qs(urlparse(self.links[0]).query)
        return int(q["baud"][0]) if "baud" in q else self.profile.baud

    @property
    def serial(self) -> bool:
        return urlparse(self.links[0]).scheme not in ("udp", "mqtt", "mqtts")

    def board_names(self) -> list[str]:
        return (
            [self.name] if self.count == 1 else [f"{self.name}-{i + 1}" for i in range(self.count)]
        )


@dataclass(frozen=True)
class Fleet:
    classes: tuple[BoardClass, ...]
    deadline_ms: float
    k: int
    min_boards: int
    headroom: float
    input_shape: tuple[int, int, int] | None
    num_classes: int | None


def _links(kind: str, name: str, link: str | None, count: int, where: str) -> tuple[str, ...]:
    schemes = get_kind(kind).schemes
    if link is None:
        link = f"pty://{name}" if "pty" in schemes else "udp://127.0.0.1:5600"
    if count == 1:
        return (link,)
    if m := re.fullmatch(r"udp://(.+):(\d+)", link):
        return tuple(f"udp://{m[1]}:{int(m[2]) + i}" for i in range(count))
    if link.startswith("pty://"):
        return tuple(f"{link}-{i + 1}" for i in range(count))
    raise PlanError(
        f"{where}: count = {count} needs a udp:// or pty:// link to number, "
        f"got {link!r}; list the boards one by one instead"
    )


def _board_class(b: dict, i: int, src: str) -> BoardClass:
    where = f"{src}: boards[{i}]"
    kind = b.get("kind")
    if kind not in BOARDS:
        raise PlanError(f"{where}.kind: {kind!r} is not a board kind; known: {', '.join(BOARDS)}")
    profile_name = b.get("profile") or get_kind(kind).default_profile
    if profile_name not in PROFILES:
        raise PlanError(
            f"{where}.profile: unknown profile {profile_name!r}; known: {', '.join(PROFILES)}"
        )
    count = b.get("count", 1)
    if not isinstance(count, int) or not 1 <= count <= MAX_BOARDS:
        raise PlanError(f"{where}.count: must be an integer in [1, {MAX_BOARDS}], got {count!r}")
    name = str(b.get("name") or f"{kind}{i + 1}")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,30}", name):
        raise PlanError(f"{where}.name: {name!r}: use a letter, then letters, digits, - or _")
    return BoardClass(
        name, kind, PROFILES[profile_name], _links(kind, name, b.get("link"), count, where)
    )


def _positive(d: dict, key: str, kind: type, default: object, src: str) -> object:
    """A positive number (an integer where ``kind`` is int), or None when absent and no default."""
    v = d.get(key, default)
    if v is None:
        return None
    ok = int if kind is int else (int, float)
    if isinstance(v, bool) or not isinstance(v, ok) or not 0 < v < 1e9:
        raise PlanError(f"{src}: {key} must be a positive {kind.__name__}, got {v!r}")
    return v


def parse_fleet(d: dict, src: str = "fleet") -> Fleet:
    boards = d.get("boards")
    if not isinstance(boards, list) or not boards:
        raise PlanError(f"{src}: needs at least one [[boards]] table")
    classes = tuple(_board_class(b, i, src) for i, b in enumerate(boards))
    names = [n for c in classes for n in c.board_names()]
    if len(set(names)) != len(names):
        raise PlanError(f"{src}: board names must be unique, got {names}")
    if len(names) > MAX_BOARDS:
        raise PlanError(f"{src}: {len(names)} boards; at most {MAX_BOARDS} are planned at once")
    shape = d.get("input_shape")
    if shape is not None and (
        not isinstance(shape, list)
        or len(shape) != 3
        or not all(isinstance(s, int) and s > 0 for s in shape)
    ):
        raise PlanError(f"{src}: input_shape must be [height, width, channels], got {shape!r}")
    deadline = float(_positive(d, "deadline_ms", float, 500, src))  # type: ignore[arg-type]
    k = int(_positive(d, "k", int, 2, src))  # type: ignore[arg-type]
    min_boards = int(_positive(d, "min_boards", int, 1, src))  # type: ignore[arg-type]
    n_cls = _positive(d, "num_classes", int, None, src)
    headroom = d.get("headroom", 0.1)
    if isinstance(headroom, bool) or not isinstance(headroom, int | float) or not 0 <= headroom < 1:
        raise PlanError(
            f"{src}: headroom must be a share of the deadline in [0, 1), got {headroom!r}"
        )
    return Fleet(
        classes,
        deadline,
        k,
        min_boards,
        float(headroom),
        tuple(shape) if shape else None,
        int(n_cls) if n_cls else None,
    )  # type: ignore[arg-type]


def load_fleet(path: Path) -> Fleet:
    try:
        d = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise PlanError(f"cannot read fleet file {path}: {e}") from None
    return parse_fleet(d, str(path))
