"""Firmware test helpers: models, expected answers from the host C engine, the CLI in-process,
and a hand-driven LOAD session for the fault cases the flash client never produces."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np
from tiny_helpers import cached_tflite  # noqa: F401 (re-exported for the fw tests)

from firmware_bridge.engine import Engine
from firmware_bridge.flash import chunk_size
from firmware_bridge.protocol import LoadAck, LoadBegin, LoadChunk, LoadCommit, Status
from firmware_bridge.protocol.crc import crc32c
from firmware_bridge.protocol.keys import derive_board_key
from firmware_bridge.protocol.session import BoardSession
from firmware_bridge.protocol.topk import result_pairs
from vp_edge.cli import main

MASTER = b"vp-edge firmware test key 32 by."  # the deployment's key (what vp-edge flash reads)
BOARD_ID = 3
KEY = derive_board_key(MASTER, BOARD_ID)  # the board's own key: what it is provisioned with


def to_vpw(tflite: bytes, seed: int = 0) -> bytes:
    """A Cortex-M .vpw with a golden self-test section (random input from ``seed``)."""
    from converters.vpw import tflite_to_vpw

    n = Engine(tflite_to_vpw(tflite)).info["input_size"]
    x = np.random.default_rng(seed).integers(-128, 128, n, dtype=np.int8)
    return tflite_to_vpw(tflite, golden_input=x, target="cortex-m4")


def expected_pairs(vpw: bytes, x: np.ndarray, k: int = 5) -> tuple[tuple[int, int], ...]:
    """Top-k of the host C engine under the protocol's rule (firmware_bridge.protocol.topk)."""
    return result_pairs(Engine(vpw).run(x).ravel(), k)


def assert_serves(url: str, vpw: bytes, epoch_file: Path, n: int = 4, seed: int = 0) -> None:
    """The board at ``url`` answers like the host C engine running ``vpw``, bit for bit."""
    size = Engine(vpw).info["input_size"]
    rng = np.random.default_rng(seed)
    with BoardSession(url, board_id=BOARD_ID, key=KEY, epoch_file=epoch_file, timeout=1.0) as s:
        hello = s.hello()
        assert hello.model_sha256 == hashlib.sha256(vpw).digest()
        assert hello.input_bytes == size
        for _ in range(n):
            x = rng.integers(-128, 128, size, dtype=np.int8)
            r = s.infer(x.tobytes())
            assert r.pairs == expected_pairs(vpw, x), r


def cli_flash(
    tmp: Path, url: str, vpw: bytes, epoch_file: Path, *extra: str, key: bytes = MASTER
) -> tuple[int, dict | None]:
    """``vp-edge flash`` in-process with the deployment key: (exit code, JSON report or None)."""
    art, key_file, out = tmp / "model.vpw", tmp / "key.hex", tmp / "flash.json"
    art.write_bytes(vpw)
    key_file.write_text(key.hex() + "\n")
    out.unlink(missing_ok=True)
    rc = main(
        [
            "flash",
            str(art),
            "--board",
            url,
            "--board-id",
            str(BOARD_ID),
            "--key-file",
            str(key_file),
            "--epoch-file",
            str(epoch_file),
            "--timeout",
            "0.3",
            "--retries",
            "3",
            "--json",
            str(out),
            *extra,
        ]
    )
    return rc, json.loads(out.read_text()) if out.exists() else None


def manual_load(
    url: str,
    epoch_file: Path,
    *,
    size: int,
    sha: bytes,
    tag: bytes,
    data: bytes,
    chunks: int | None = None,
    commit: bool = True,
    bad_crc_at: int | None = None,
) -> list[LoadAck]:
    """Drive a LOAD session by hand (to send what the flash client never would)."""
    acks: list[LoadAck] = []
    with BoardSession(url, board_id=BOARD_ID, key=KEY, epoch_file=epoch_file) as s:
        s.hello()
        rb = s.readback()
        slot = 1 - rb.slot if rb.status == Status.OK else 0
        rid = random.randint(1, 0xFFFFFFFF)

        def req(msg, timeout=None):
            acks.append(s.request(msg, (LoadAck,), request_id=rid, timeout=timeout).msg)

        req(LoadBegin(size, slot, sha, tag))
        step = chunk_size(1200, True)
        for i, off in enumerate(range(0, len(data), step)):
            if chunks is not None and i >= chunks:
                break
            d = data[off : off + step]
            req(LoadChunk(off, crc32c(d) ^ (1 if i == bad_crc_at else 0), d))
        if commit:
            req(LoadCommit(True), timeout=10.0)
    return acks
