"""The application's errors, and the lower layers' re-exported: one root, ``VpEdgeError``
(defined in firmware_bridge.errors so no lower layer imports this module), a branch per layer.
Only ``cli.main`` turns them into messages."""

from __future__ import annotations

from boards.errors import BoardError
from converters.errors import ArtifactError, ConversionError
from firmware_bridge.errors import BridgeError, UsageError, VpEdgeError

__all__ = [
    "ArtifactError",
    "BoardError",
    "BridgeError",
    "ConversionError",
    "DataError",
    "DeploymentError",
    "FamilyError",
    "GatewayError",
    "TrainingError",
    "UsageError",
    "VoteError",
    "VpEdgeError",
]


class DataError(VpEdgeError):
    """A data set could not be loaded: missing path, unreadable file, bad shapes or labels."""


class FamilyError(VpEdgeError):
    """A family file or preset is invalid."""


class TrainingError(VpEdgeError):
    """Training could not start or resume."""


class VoteError(VpEdgeError):
    """Invalid vote input: bad k, unknown rule, empty voter set."""


class DeploymentError(VpEdgeError):
    """A deployment file is invalid; the message names the key."""


class GatewayError(VpEdgeError):
    """The gateway could not serve a request."""

    exit_code = 3


class GatewayTimeout(GatewayError):
    """No answer from a gateway within the time given."""

    exit_code = 5
