"""``vp-edge keys derive`` at the library level: the master's source, the file written 0600."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from firmware_bridge.protocol.keys import derive_board_key
from vp_edge.keys_run import KeysUsageError, derive_key

MASTER = bytes(range(16, 48))


def test_printed_key_is_the_board_key(tmp_path: Path) -> None:
    (tmp_path / "m.key").write_text(MASTER.hex())
    info = derive_key(5, tmp_path / "m.key", None)
    assert info == {
        "board_id": 5,
        "kdf": "HKDF-SHA256",
        "out": None,
        "key": derive_board_key(MASTER, 5).hex(),
    }


def test_written_key_is_private(tmp_path: Path) -> None:
    (tmp_path / "m.key").write_text(MASTER.hex())
    info = derive_key(5, tmp_path / "m.key", None, tmp_path / "b5.key")
    assert info["out"] == str(tmp_path / "b5.key") and "key" not in info
    assert (tmp_path / "b5.key").read_text() == derive_board_key(MASTER, 5).hex() + "\n"
    assert stat.S_IMODE((tmp_path / "b5.key").stat().st_mode) == 0o600
    with pytest.raises(KeysUsageError, match="cannot write --out"):
        derive_key(5, tmp_path / "m.key", None, tmp_path / "no" / "b5.key")


def test_insecure_deployment_has_no_key(tmp_path: Path) -> None:
    dep = tmp_path / "dep.toml"
    dep.write_text(
        'run = "r"\ninsecure = true\n\n[[boards]]\nid = 1\nname = "b1"\nkind = "linux"\n'
        'link = "udp://127.0.0.1:9"\nvariant = "v0"\n'
    )
    with pytest.raises(KeysUsageError, match="an insecure deployment has no key to derive"):
        derive_key(1, None, dep)
