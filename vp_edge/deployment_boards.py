"""The ``[[boards]]`` tables of a deployment file: one checked :class:`BoardSpec` each.

Also the field readers the whole file uses (``get_key``, ``refuse_unknown``): every error names
the file, the key and what to do, e.g. ``deploy.toml: boards[2].link: ...``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vp_edge.errors import DeploymentError

BOARD_KEYS = ("id", "name", "kind", "link", "variant", "profile", "kernels")


@dataclass(frozen=True)
class BoardSpec:
    """One board of a deployment."""

    id: int
    name: str
    kind: str
    link: str
    variant: str
    profile: str
    kernels: str = ""  # LiteRT's kernels on boards whose runtime is LiteRT (linux); else ""

    @property
    def runtime(self) -> str:
        """What the board computes with, so offline checks run the same: ``litert-<kernels>``
        for linux boards, else its kind's runner (tflm, engine, pynq)."""
        from boards.registry import get_kind
        from converters.interpreters import BOARD_KERNELS

        runner = get_kind(self.kind).runner
        return f"litert-{self.kernels or BOARD_KERNELS}" if runner == "litert" else runner


def key_error(where: str, key: str, msg: str) -> DeploymentError:
    return DeploymentError(f"{where}: {key}: {msg}")


def get_key(
    d: dict, key: str, typ: type | tuple, where: str, default: Any = ..., prefix: str = ""
) -> Any:
    if key not in d:
        if default is ...:
            raise key_error(where, prefix + key, "missing; see docs/deployment.md")
        return default
    v = d[key]
    if isinstance(v, bool) and typ is not bool or not isinstance(v, typ):
        name = typ.__name__ if isinstance(typ, type) else " or ".join(t.__name__ for t in typ)
        raise key_error(where, prefix + key, f"must be {name}, got {v!r}")
    return v


def refuse_unknown(d: dict, known: tuple[str, ...], where: str, prefix: str = "") -> None:
    extra = sorted(set(d) - set(known))
    if extra:
        raise key_error(where, prefix + extra[0], f"unknown key; known: {', '.join(known)}")


def parse_board(d: Any, i: int, where: str) -> BoardSpec:
    from boards.profiles import PROFILES
    from boards.registry import BOARDS, link_problem
    from firmware_bridge.transport import LinkError, parse_link

    p = f"boards[{i}]."
    if not isinstance(d, dict):
        raise key_error(where, f"boards[{i}]", "must be a table ([[boards]])")
    refuse_unknown(d, BOARD_KEYS, where, p)
    bid = get_key(d, "id", int, where, None, p)
    if bid is None or not 0 <= bid <= 0xFFFF:
        raise key_error(where, p + "id", f"must be an integer 0..65535, got {d.get('id')!r}")
    vals = {k: get_key(d, k, str, where, None, p) for k in ("name", "kind", "link", "variant")}
    for k, v in vals.items():
        if not v:
            raise key_error(where, p + k, "missing or empty")
    kind = BOARDS.get(vals["kind"])
    if kind is None:
        raise key_error(
            where, p + "kind", f"unknown kind {vals['kind']!r}; known: {', '.join(BOARDS)}"
        )
    try:
        scheme = parse_link(vals["link"]).scheme
    except LinkError as e:
        raise key_error(where, p + "link", str(e)) from None
    if problem := link_problem(kind, scheme):
        raise key_error(where, p + "link", problem)
    profile = get_key(d, "profile", str, where, kind.default_profile, p)
    if profile not in PROFILES:
        raise key_error(
            where, p + "profile", f"unknown profile {profile!r}; known: {', '.join(PROFILES)}"
        )
    return BoardSpec(
        bid,
        vals["name"],
        vals["kind"],
        vals["link"],
        vals["variant"],
        profile,
        _kernels(d, kind, where, p),
    )


def _kernels(d: dict, kind: Any, where: str, p: str) -> str:
    """LiteRT's kernels for a board whose runtime is LiteRT (default xnnpack); "" otherwise."""
    from converters.interpreters import BOARD_KERNELS, LITERT_KERNELS

    if kind.runner != "litert":
        if "kernels" in d:
            raise key_error(
                where,
                p + "kernels",
                f"a {kind.kind} board runs {kind.runner}, which has "
                "no kernels to choose; remove the key (only linux boards take it)",
            )
        return ""
    kernels = get_key(d, "kernels", str, where, BOARD_KERNELS, p)
    if kernels not in LITERT_KERNELS:
        raise key_error(
            where, p + "kernels", f"unknown kernels {kernels!r}; known: {', '.join(LITERT_KERNELS)}"
        )
    return kernels


def check_distinct_links(boards: tuple[BoardSpec, ...], where: str) -> None:
    """Two boards cannot share one UDP port (or one pty name): the second could not bind it.

    A link whose scheme names boards (``mqtt://BROKER/DEPLOYMENT``) is compared completed with
    each board's id, the way the gateway opens it: boards on one broker are distinct."""
    from firmware_bridge.transport import for_board, parse_link

    seen: dict[tuple, int] = {}
    for i, b in enumerate(boards):
        link = for_board(b.link, b.id)
        spec = parse_link(link)
        key = (spec.scheme, spec.host, spec.port) if spec.scheme == "udp" else (spec.scheme, link)
        if key in seen:
            raise key_error(
                where,
                f"boards[{i}].link",
                f"{link!r} is also boards[{seen[key]}]'s "
                "link; give every board its own port or name",
            )
        seen[key] = i
