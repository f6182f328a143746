"""Keys: the one key-file rule and the per-board key derivation (docs/protocol.md §4).

A deployment holds one *master* key. Each board's key is derived from it and the board id with
HKDF-SHA256 (RFC 5869), so a board stores only its own key and a party that reads it out of one
board can speak only for that board. The gateway holds the master and derives per board::

    master = read_key("deploy.key")              # hex text or raw bytes, at least 16 bytes
    k7 = derive_board_key(master, 7)             # what board 7 is provisioned with
    auth = Auth(BoardKeys(master), role="gateway")   # verifies each board with its own key

The C twin is ``vp_board_key`` in ``c/vp_proto.c``; a test checks both derive the same key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import struct

from ..errors import KeyFileError
from ..files import KEY_FILE_MAX, read_limited

MIN_KEY = 16
#: HKDF salt: fixes the purpose and version of the derivation.
BOARD_KEY_SALT = b"vp-edge board key v1"
BOARD_KEY_LEN = 32


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF with SHA-256 (RFC 5869): Extract, then Expand to ``length`` bytes (<= 8160)."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block = b"", b""
    for i in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
    return out[:length]


def derive_board_key(master: bytes, board_id: int) -> bytes:
    """HKDF-SHA256(IKM=master, salt=BOARD_KEY_SALT, info=u16le(board_id), L=32)."""
    if not 0 <= board_id <= 0xFFFF:
        raise KeyFileError(f"board id {board_id} outside 0..65535")
    if len(master) < MIN_KEY:
        raise KeyFileError(f"master key is {len(master)} bytes, at least {MIN_KEY} needed")
    return hkdf_sha256(master, BOARD_KEY_SALT, struct.pack("<H", board_id), BOARD_KEY_LEN)


class BoardKeys:
    """The gateway's view of a master key: ``keys.for_board(id)`` is that board's key."""

    def __init__(self, master: bytes) -> None:
        if len(master) < MIN_KEY:
            raise KeyFileError(f"master key is {len(master)} bytes, at least {MIN_KEY} needed")
        self._master = bytes(master)
        self._cache: dict[int, bytes] = {}

    def for_board(self, board_id: int) -> bytes:
        """The derived key of ``board_id`` (cached: derivation is two HMACs)."""
        key = self._cache.get(board_id)
        if key is None:
            key = self._cache[board_id] = derive_board_key(self._master, board_id)
        return key

    def __repr__(self) -> str:  # never print key material
        return "BoardKeys(<master>)"


KeySource = bytes | BoardKeys | None


def key_for(source: KeySource, board_id: int) -> bytes | None:
    """The key that authenticates frames of ``board_id``: a board's own, or derived."""
    if isinstance(source, BoardKeys):
        return source.for_board(board_id)
    return source


def parse_key(data: bytes | str, what: str) -> bytes:
    """The one key rule: hex text (whitespace around it ignored) or raw bytes, >= 16 bytes.

    A ``str`` (a key written inline in a file) must be hex.
    """
    raw = data.encode() if isinstance(data, str) else bytes(data)
    text = raw.strip()
    is_hex = bool(text) and re.fullmatch(rb"[0-9a-fA-F]+", text) is not None
    if isinstance(data, str) and not is_hex:
        raise KeyFileError(f"{what}: not a hex string")
    if is_hex:
        if len(text) % 2:
            raise KeyFileError(
                f"{what}: odd number of hex digits ({len(text)}); "
                "write the key as hex pairs or as raw bytes"
            )
        key = bytes.fromhex(text.decode("ascii"))
    else:
        key = raw
    if len(key) < MIN_KEY:
        raise KeyFileError(
            f"{what}: key is {len(key)} bytes, at least {MIN_KEY} needed "
            f"(make one: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return key


def read_key(path: str | os.PathLike[str], what: str | None = None) -> bytes:
    """Read a key file under the one rule; ``KeyFileError`` naming the file otherwise."""
    name = what or f"key file {path}"
    try:
        data = read_limited(path, KEY_FILE_MAX, name)
    except OSError as exc:
        raise KeyFileError(f"{name}: cannot read it: {exc.strerror or exc}") from None
    return parse_key(data, name)
