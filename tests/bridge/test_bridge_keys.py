"""Keys: the one key-file rule used by every reader (deployment, flash, board servers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_bridge.errors import KeyFileError
from firmware_bridge.keys import MIN_KEY, parse_key, read_key


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"00112233445566778899aabbccddeeff\n", bytes.fromhex("00112233445566778899aabbccddeeff")),
        ("  00112233445566778899AABBCCDDEEFF ", bytes.fromhex("00112233445566778899aabbccddeeff")),
        (b"raw key bytes, 24 long!!", b"raw key bytes, 24 long!!"),
        (bytes(range(200, 232)), bytes(range(200, 232))),
    ],
    ids=["hex-file", "hex-inline", "raw-text", "raw-binary"],
)
def test_key_rule_accepts_hex_or_raw_of_16_bytes_or_more(data, expected) -> None:
    assert parse_key(data, "k") == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "0 bytes"),
        (b"x", "1 bytes"),
        (b"0011223344556677", "8 bytes"),  # 16 hex digits are 8 bytes: too short
        (b"001122334455667788990aabbccddeeff", "odd number of hex digits"),
        ("not hex at all, but long enough", "not a hex string"),
        (b"fifteen bytes!!", "15 bytes"),
    ],
)
def test_key_rule_refuses_with_a_message_naming_the_source(data, message) -> None:
    with pytest.raises(KeyFileError, match=message) as e:
        parse_key(data, "--key-file k.hex")
    assert str(e.value).startswith("--key-file k.hex: ")
    assert e.value.exit_code == 2


def test_read_key_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"nope\.key: cannot read it"):
        read_key(tmp_path / "nope.key")
    (tmp_path / "ok.key").write_bytes(b"k" * MIN_KEY)
    assert read_key(tmp_path / "ok.key") == b"k" * MIN_KEY


@pytest.mark.parametrize("argv_head", [["flash", "m.vpw", "--board", "udp://127.0.0.1:9"],
                                       ["board", "serve", "--model", "m.tflite", "--listen",
                                        "udp://127.0.0.1:0", "--board-id", "1"]])
def test_cli_key_readers_refuse_a_one_byte_key(tmp_path: Path, capsys, argv_head) -> None:
    from vp_edge.cli import main

    key = tmp_path / "short.key"
    key.write_bytes(b"x")
    rc = main([*argv_head, "--key-file", str(key)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "key is 1 bytes, at least 16 needed" in err and "Traceback" not in err
