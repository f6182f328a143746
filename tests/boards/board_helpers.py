"""Fakes shared by the board and gateway tests: a TF-free run, a fake runner, in-process boards,
and a link injector that duplicates, replays, corrupts and forges frames.

Importable as ``board_helpers`` (tests/boards is on sys.path for its own tests; the gateway
integration tests add it).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import firmware_bridge as fb
from boards.profiles import PROFILES
from boards.runners import RUNNERS, Runner
from boards.server import BoardConfig, BoardServer, serve_in_thread
from firmware_bridge.transport import Link, ThrottledLink, open_link
from vp_edge.deployment import Deployment, deployment_toml, load_deployment
from vp_edge.family import load_family, save_family

KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
VARIANTS = ("t16", "t24")


def fake_sha(variant: str) -> str:
    return hashlib.sha256(f"fake model {variant}".encode()).hexdigest()


class FakeRunner(Runner):
    """Deterministic int8 'model': scores from a seeded projection of the input. No TF."""

    name = "fake"

    def __init__(self, model: bytes, delay_s: float = 0.0, **options: object) -> None:
        super().__init__(model)
        self.input_shape, self.output_size, self.delay_s = (28, 28, 1), 10, delay_s
        seed = int.from_bytes(hashlib.sha256(self.model).digest()[:4], "little")
        self.w = np.random.default_rng(seed).integers(-3, 4, (784, 10))

    def run(self, x: np.ndarray) -> np.ndarray:
        if self.delay_s:
            time.sleep(self.delay_s)
        v = np.asarray(x, np.int64).reshape(-1) @ self.w
        return (v % 256 - 128).astype(np.int8)


RUNNERS["fake"] = FakeRunner


def fake_output(variant: str, x: np.ndarray) -> np.ndarray:
    return FakeRunner(variant.encode()).run(x)


def make_fake_run(root: Path) -> Path:
    """A converted-run look-alike: family.json and cards for t16/t24, no models needed."""
    run = root / "run"
    (run / "models").mkdir(parents=True)
    save_family(load_family("tiny"), run / "family.json")
    for v in VARIANTS:
        card = {
            "name": v,
            "input_shape": [1, 28, 28, 1],
            "input_scale": 1 / 255,
            "input_zero_point": -128,
            "output_scale": 1 / 256,
            "output_zero_point": -128,
            "num_classes": 10,
            "tflite_sha256": fake_sha(v),
            "tflite_bytes": 100_000,
            "arena_bytes": 50_000,
        }
        (run / "models" / f"{v}.json").write_text(json.dumps(card))
    return run


def write_deployment(root: Path, run: Path, boards: list[dict], **top: object) -> Deployment:
    """A deployment file over ``run`` with the test key; returns it loaded and checked."""
    # heartbeats every 0.5 s: a board silent for 1.5 periods is marked down, and a loaded test
    # machine delays a board thread's heartbeat by a few hundred ms now and then
    doc = {
        "run": str(run),
        "key": KEY.hex(),
        "k": 2,
        "rule": "reference",
        "deadline_ms": 300,
        "heartbeat_ms": 500,
        **top,
    }
    path = root / "deploy.toml"
    path.write_text(deployment_toml(doc, boards))
    return load_deployment(path)


def four_boards(ports: list[int]) -> list[dict]:
    return [
        {"id": 1, "name": "pi1", "kind": "linux", "link": f"udp://127.0.0.1:{ports[0]}",
         "variant": "t16"},
        {"id": 2, "name": "pi2", "kind": "linux", "link": f"udp://127.0.0.1:{ports[1]}",
         "variant": "t24"},
        {"id": 3, "name": "m3", "kind": "mcu", "link": "pty://m3", "variant": "t16",
         "profile": "esp32-s3"},
        {"id": 4, "name": "m4", "kind": "mcu", "link": "pty://m4", "variant": "t24",
         "profile": "esp32-s3"},
    ]  # fmt: skip


@dataclass
class FakeBoards:
    """In-process boards of a deployment, each a BoardServer thread with a FakeRunner."""

    dep: Deployment
    servers: dict[str, BoardServer] = field(default_factory=dict)
    threads: dict[str, threading.Thread] = field(default_factory=dict)

    def start(
        self,
        name: str,
        delay_s: float = 0.0,
        wrap=None,
        server_cls=BoardServer,
        runner: Runner | None = None,
        **config: object,
    ) -> None:
        """Serve board ``name`` (a FakeRunner unless ``runner``; ``config`` overrides
        BoardConfig fields, e.g. ``k=0`` for a tensor board, ``max_frame``)."""
        b = self.dep.board(name)
        link: Link = open_link(b.link, server=True, pty_dir=self.dep.pty_dir)
        if b.kind == "mcu":
            link = ThrottledLink(link, PROFILES[b.profile].baud)
        runner = runner or FakeRunner(b.variant.encode(), delay_s=delay_s)
        own = None if self.dep.key is None else fb.derive_board_key(self.dep.key, b.id)
        cfg = BoardConfig(
            b.id,
            b.variant,
            self.dep.k,
            own,
            fb.BoardKind.MCU if b.kind == "mcu" else fb.BoardKind.LINUX,
            model_sha256=bytes.fromhex(fake_sha(b.variant)),
            heartbeat_s=self.dep.heartbeat_s,
        )
        for field_name, value in config.items():
            setattr(cfg, field_name, value)
        server = server_cls(wrap(link) if wrap else link, runner, cfg)
        if wrap:
            server.link.tx = server.tx
        self.servers[name] = server
        self.threads[name] = serve_in_thread(server)

    def kill(self, name: str) -> None:
        self.servers[name].close()
        self.threads[name].join(2)

    def stop(self) -> None:
        for name in list(self.servers):
            self.kill(name)


class MuteServer(BoardServer):
    """A hung board: accepts frames, answers nothing at all."""

    def send(self, msg: fb.Message, request_id: int = 0) -> None:
        if isinstance(msg, fb.Hello) and request_id:
            super().send(msg, request_id)  # joins, then never answers an INFER

    def infer(self, tensor: bytes, request_id: int) -> None:
        return None


class DoubleServer(BoardServer):
    """A buggy board: every RESULT is sent twice (fresh counters, so both authenticate)."""

    def infer(self, tensor: bytes, request_id: int) -> None:
        super().infer(tensor, request_id)
        super().infer(tensor, request_id)


class Injector(Link):
    """Sits on a board's link. For each RESULT the board sends it also sends a byte-identical
    duplicate, a replay of an earlier RESULT, a corrupted copy, a RESULT forged with a wrong key,
    one forged with another board's own key (board 1's, or board 2's on board 1: what a party
    that read a key out of one board could send), an INSECURE one, one claiming another board
    id signed with that board's key, and a correctly signed RESULT for a request id the gateway
    never issued (foreign). ``tried`` counts each; ``genuine`` the board's frames.
    """

    def __init__(self, inner: Link) -> None:
        super().__init__(inner.url)
        self.inner, self.framing = inner, inner.framing
        self.tried: dict[str, int] = dict.fromkeys(
            (
                "duplicate",
                "replay",
                "corrupt",
                "forged_key",
                "forged_peer_key",
                "forged_insecure",
                "forged_board",
                "foreign",
            ),
            0,
        )
        self.genuine = 0
        self.recorded: list[bytes] = []
        self.tx: fb.Sender | None = None  # the board's own sender, set after construction

    def _enc(self, frame: bytes) -> bytes:
        return frame if self.framing == "datagram" else fb.to_serial(frame)

    def confirm_peer(self) -> None:
        self.inner.confirm_peer()

    def _put(self, what: str, data: bytes) -> None:
        self.inner.send(data)
        self.tried[what] += 1

    def send(self, data: bytes) -> None:
        if getattr(self.inner, "server", False) and self.inner.peer is None:
            return  # nobody to talk to yet: not sent, not counted
        self.inner.send(data)
        self.genuine += 1
        frame = data if self.framing == "datagram" else fb.cobs_decode(data[:-1])
        if frame[2] != fb.MsgType.RESULT:
            return
        bid, rid = int.from_bytes(frame[4:6], "little"), int.from_bytes(frame[6:10], "little")
        self._put("duplicate", data)
        if self.recorded:
            self._put("replay", self.recorded[-1])
        self.recorded.append(data)
        bad = bytearray(frame)
        bad[21] ^= 0x5A
        self._put("corrupt", self._enc(bytes(bad)))
        lie = fb.Result(1, ((9, 127), (8, 126)))
        ctr = (0xFFFF_FFFF << 32) | 1
        self._put(
            "forged_key",
            self._enc(
                fb.encode_frame(
                    lie, board_id=bid, request_id=rid, counter=ctr, key=b"not the deployment key"
                )
            ),
        )
        peer = fb.derive_board_key(KEY, 1 if bid != 1 else 2)
        self._put(
            "forged_peer_key",
            self._enc(fb.encode_frame(lie, board_id=bid, request_id=rid, counter=ctr, key=peer)),
        )
        self._put(
            "forged_insecure",
            self._enc(fb.encode_frame(lie, board_id=bid, request_id=rid, counter=ctr, key=None)),
        )
        self._put(
            "forged_board",
            self._enc(
                fb.encode_frame(
                    lie,
                    board_id=bid + 100,
                    request_id=rid,
                    counter=ctr,
                    key=fb.derive_board_key(KEY, bid + 100),
                )
            ),
        )
        if self.tx is not None:
            self._put("foreign", self._enc(self.tx.frame(lie, rid ^ 0x5A5A5A5A)))
            self.genuine += 1  # authentic frame from the board itself: accepted, then ignored

    def recv(self, timeout: float) -> bytes:
        return self.inner.recv(timeout)

    def close(self) -> None:
        self.inner.close()
