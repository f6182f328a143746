"""Keys: the one key-file rule, and per-board keys derived by HKDF identically in Python and C."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from bridge_helpers import run_harness

from firmware_bridge import Auth, Counter, MsgType, Probe, Result, Sender
from firmware_bridge.errors import KeyFileError
from firmware_bridge.protocol.keys import (
    MIN_KEY,
    BoardKeys,
    derive_board_key,
    hkdf_sha256,
    parse_key,
    read_key,
)


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


@pytest.mark.parametrize(
    "argv_head",
    [
        ["flash", "m.vpw", "--board", "udp://127.0.0.1:9"],
        [
            "board",
            "serve",
            "--model",
            "m.tflite",
            "--listen",
            "udp://127.0.0.1:0",
            "--board-id",
            "1",
        ],
    ],
)
def test_cli_key_readers_refuse_a_one_byte_key(tmp_path: Path, capsys, argv_head) -> None:
    from vp_edge.cli import main

    key = tmp_path / "short.key"
    key.write_bytes(b"x")
    rc = main([*argv_head, "--key-file", str(key)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "key is 1 bytes, at least 16 needed" in err and "Traceback" not in err


# -- per-board keys (docs/protocol.md §4) ----------------------------------------------------------
VECTOR_MASTER = b"vp-edge test key"
VECTOR = {  # docs/protocol.md §7
    1: "368ac562454ff2a2050bf4fc383900f2a70a13dc000c895a99609db5d1873270",
    7: "6df09b8e8f1da78eb84b4767dd1f1637cdcf3e6231b4c7c0e60542448fc02f7c",
}


def test_hkdf_matches_rfc5869_test_case_1() -> None:
    okm = hkdf_sha256(bytes([0x0B] * 22), bytes(range(13)), bytes(range(0xF0, 0xFA)), 42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_board_key_vector_from_protocol_md() -> None:
    for board, hexkey in VECTOR.items():
        assert derive_board_key(VECTOR_MASTER, board).hex() == hexkey
    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    assert VECTOR[7] in doc


def test_c_and_python_derive_the_same_board_keys(harness: Path) -> None:
    rng = random.Random(5)
    masters = [VECTOR_MASTER, bytes(range(64)), bytes(range(100)), rng.randbytes(33)]
    ids = [0, 1, 2, 7, 255, 256, 0x1234, 0xFFFF]
    for master in masters:
        lines = run_harness(harness, ["boardkey", master.hex(), *map(str, ids)], "")
        assert lines == [derive_board_key(master, i).hex() for i in ids]


def test_board_keys_differ_and_refuse_bad_input() -> None:
    keys = {derive_board_key(VECTOR_MASTER, i) for i in range(300)}
    assert len(keys) == 300
    with pytest.raises(KeyFileError, match="outside 0..65535"):
        derive_board_key(VECTOR_MASTER, 65536)
    with pytest.raises(KeyFileError, match="at least 16"):
        BoardKeys(b"short")
    assert "master" in repr(BoardKeys(VECTOR_MASTER)) and VECTOR_MASTER.hex() not in repr(
        BoardKeys(VECTOR_MASTER)
    )


def test_gateway_checks_each_board_with_its_own_derived_key() -> None:
    master = VECTOR_MASTER
    gw = Auth(BoardKeys(master), {1, 2}, role="gateway")
    own1 = Sender(derive_board_key(master, 1), Counter(1), board_id=1)
    own2 = Sender(derive_board_key(master, 2), Counter(1), board_id=2)
    assert gw.check(own1.frame(Result(1, ((0, 1),)), 5)) is not None
    assert gw.check(own2.frame(Result(1, ((0, 1),)), 5)) is not None
    forged = Sender(derive_board_key(master, 1), Counter(9), board_id=2)  # board 1's key as 2
    assert gw.check(forged.frame(Result(1, ((0, 1),)), 6)) is None
    assert gw.stats["bad_tag"] == 1
    # the gateway's frames to each board carry that board's key
    tx = Sender(BoardKeys(master), Counter(3), from_gateway=True)
    b2 = Auth(derive_board_key(master, 2), {2}, role="board")
    assert b2.check(tx.frame(Probe(MsgType.HELLO), 1, board_id=2)) is not None
    b1_as_2 = Auth(derive_board_key(master, 1), {2}, role="board")
    assert b1_as_2.check(tx.frame(Probe(MsgType.HELLO), 2, board_id=2)) is None


def test_cli_keys_derive_for_provisioning(tmp_path: Path, capsys) -> None:
    from vp_edge.cli import main

    master = tmp_path / "deploy.key"
    master.write_text(VECTOR_MASTER.hex() + "\n")
    assert main(["keys", "derive", "--board-id", "7", "--key-file", str(master)]) == 0
    assert capsys.readouterr().out.strip() == VECTOR[7]
    out = tmp_path / "board1.key"
    assert (
        main(["keys", "derive", "--board-id", "1", "--key-file", str(master), "--out", str(out)])
        == 0
    )
    assert read_key(out) == bytes.fromhex(VECTOR[1]) and out.stat().st_mode & 0o077 == 0
    assert "written to" in capsys.readouterr().out
    dep = tmp_path / "deploy.toml"
    dep.write_text(
        'run = "r"\nkey_file = "deploy.key"\n\n[[boards]]\nid = 1\nname = "a"\n'
        'kind = "linux"\nlink = "udp://127.0.0.1:5601"\nvariant = "v"\n'
    )
    assert main(["keys", "derive", "--board-id", "7", "--deployment", str(dep)]) == 0
    assert capsys.readouterr().out.strip() == VECTOR[7]
    with pytest.raises(SystemExit) as e:  # refused by the argument's type, before any reading
        main(["keys", "derive", "--board-id", "70000", "--key-file", str(master)])
    assert e.value.code == 2 and "<= 65535" in capsys.readouterr().err
