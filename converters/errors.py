"""Errors of the converters layer (their root, ``VpEdgeError``, lives in firmware_bridge)."""

from __future__ import annotations

from firmware_bridge.errors import VpEdgeError


class ConversionError(VpEdgeError):
    """A model could not be converted to full int8 or failed its checks."""


class ArtifactError(VpEdgeError):
    """A run directory, model card or artefact is missing or inconsistent."""
