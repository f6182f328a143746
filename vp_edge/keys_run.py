"""A board's own key as ``vp-edge keys derive`` makes it, callable from a script the same way:
HKDF-SHA256 of the deployment's master key and the board id (docs/protocol.md §4), printed or
written to a file only its owner reads. The board is provisioned with it; the master stays with
the gateway.
"""

from __future__ import annotations

import os
from pathlib import Path

from vp_edge.errors import VpEdgeError


class KeysUsageError(VpEdgeError):
    """Bad arguments for ``vp-edge keys`` (exit code 2)."""


def master_key(key_file: Path | None, deployment: Path | None) -> bytes:
    """The master key: from ``key_file``, else from the ``deployment`` file (its key or
    key_file); an insecure deployment has none to derive from."""
    from firmware_bridge.protocol.keys import read_key

    if key_file is not None:
        return read_key(key_file, f"--key-file {key_file}")
    from vp_edge.deployment import load_deployment

    assert deployment is not None, "give key_file or deployment"
    dep = load_deployment(deployment, check_run=False)
    if dep.key is None:
        raise KeysUsageError(f"{deployment}: an insecure deployment has no key to derive")
    return dep.key


def derive_key(
    board_id: int, key_file: Path | None, deployment: Path | None, out: Path | None = None
) -> dict:
    """Board ``board_id``'s key: written as hex to ``out`` (mode 0600) when given, else returned
    under "key"; "out" says where it went."""
    from firmware_bridge.protocol.keys import derive_board_key

    key = derive_board_key(master_key(key_file, deployment), board_id).hex()
    info: dict = {"board_id": board_id, "kdf": "HKDF-SHA256", "out": None}
    if out is None:
        return {**info, "key": key}
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
    except OSError as e:
        raise KeysUsageError(f"cannot write --out {out}: {e.strerror}") from None
    return {**info, "out": str(out)}
