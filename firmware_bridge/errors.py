"""One error root for firmware_bridge, a branch per concern.

Decoders never raise on wire garbage (they drop and count); these errors are for callers that
hand the codec invalid values (a k that does not fit, a tensor larger than a request may be)
and for local state problems (an exhausted counter, an unreadable epoch file).
"""

from __future__ import annotations


class VpEdgeError(RuntimeError):
    """The shared root of every error the project raises on purpose, in every layer.

    It lives in the lowest layer so converters and boards derive their errors from it without
    importing the application; ``vp_edge.errors`` re-exports it. ``exit_code`` is what the CLI
    returns (2: usage or input).
    """

    exit_code = 2


class UsageError(VpEdgeError):
    """A value the user gave does not fit what it is applied to (e.g. k above the classes)."""


class BridgeError(VpEdgeError):
    """Root of every error firmware_bridge raises on purpose. ``exit_code`` is for CLIs."""

    exit_code = 3


class ProtocolError(BridgeError):
    """A message cannot be packed or a payload cannot be unpacked (field out of range, bad size)."""


class ChunkError(BridgeError):
    """An INFER tensor cannot be split (empty, too large, budget too small for a chunk)."""


class CounterError(BridgeError):
    """The per-sender counter cannot advance: sequence exhausted or epoch file unusable."""


class KeyFileError(BridgeError):
    """A key is unusable: unreadable file, too short, malformed hex, or a bad board id."""

    exit_code = 2
