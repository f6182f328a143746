"""What the boards layer needs of a deployment, as types at its own level.

The application's ``vp_edge.deployment.Deployment`` and ``BoardSpec`` satisfy these protocols
structurally; ``boards`` names only these, so it never imports (or type-checks against) the
layer above it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class BoardSpecLike(Protocol):
    """One board of a deployment: who it is, how it is reached, what it serves."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def link(self) -> str: ...
    @property
    def variant(self) -> str: ...
    @property
    def profile(self) -> str: ...
    @property
    def kernels(self) -> str: ...


class DeploymentLike(Protocol):
    """A validated deployment, as the emulated boards read it (paths absolute)."""

    @property
    def run(self) -> Path: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def k(self) -> int: ...
    @property
    def heartbeat_s(self) -> float: ...
    @property
    def state_dir(self) -> Path: ...
    @property
    def strategy(self) -> str: ...
    @property
    def boards(self) -> tuple[BoardSpecLike, ...]: ...
    @property
    def epoch_file(self) -> Path: ...
    @property
    def pty_dir(self) -> Path: ...

    def board(self, which: str | int) -> BoardSpecLike:
        """A board by name or id."""
        ...

    def board_model(self, b: BoardSpecLike, suffix: str) -> tuple[Path, int]:
        """(model file, k) board ``b`` serves."""
        ...
