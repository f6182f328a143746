"""One error root for vp_edge, a branch per layer. Only ``cli.main`` turns them into messages."""

from __future__ import annotations


class VpEdgeError(RuntimeError):
    """Root of every error vp-edge raises on purpose. ``exit_code`` is what the CLI returns."""

    exit_code = 2


class DataError(VpEdgeError):
    """A data set could not be loaded: missing path, unreadable file, bad shapes or labels."""


class FamilyError(VpEdgeError):
    """A family file or preset is invalid."""


class TrainingError(VpEdgeError):
    """Training could not start or resume."""


class ConversionError(VpEdgeError):
    """A model could not be converted to full int8 or failed its checks."""


class ArtifactError(VpEdgeError):
    """A run directory, model card or artefact is missing or inconsistent."""


class VoteError(VpEdgeError):
    """Invalid vote input: bad k, unknown rule, empty voter set."""


class DeploymentError(VpEdgeError):
    """A deployment file is invalid; the message names the key."""


class BoardError(VpEdgeError):
    """A board refused or failed a request."""

    exit_code = 3


class GatewayError(VpEdgeError):
    """The gateway could not serve a request."""

    exit_code = 3


class UsageError(VpEdgeError):
    """A value the user gave does not fit what it is applied to (e.g. k above the classes)."""


class GatewayTimeout(GatewayError):
    """No answer from a gateway within the time given."""

    exit_code = 5
