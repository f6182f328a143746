"""Errors of the boards layer (their root, ``VpEdgeError``, lives in firmware_bridge)."""

from __future__ import annotations

from firmware_bridge.errors import VpEdgeError


class BoardError(VpEdgeError):
    """A board refused or failed a request."""

    exit_code = 3
