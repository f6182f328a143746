"""Strategy parts live: tensor boards (k = 0, TENSOR), a stateful two-stage part (INFER_STAGE),
a scores part on a serial link (RESULT with every output), driven by the gateway's plan driver.

No TensorFlow: the tensor board serves a cached tiny int8 .tflite from the engine tests (made
once by tests/engine/make_models.py); the other parts are Runner subclasses written here.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "boards"))

from board_helpers import KEY, FakeBoards, FakeRunner, make_fake_run
from tiny_helpers import cached_tflite

import firmware_bridge as fb
from boards.runners import LiteRtRunner, Runner
from firmware_bridge.protocol import CRC_SIZE, HEADER_SIZE, TAG_SIZE
from vp_edge.deployment import deployment_toml, load_deployment
from vp_edge.gateway.core import Gateway
from vp_edge.gateway.parts import run_plan
from vp_edge.strategies.base import Call, Outcome, PartInfo

pytest.importorskip("ai_edge_litert")


class TwoStages(Runner):
    """A stateful two-stage part: stage 0 keeps 16 sums of the image per key; stage 1 adds the
    received 16 bytes to them (wrapping int8) and forgets the key."""

    name = "two-stages"
    stages = 2

    def __init__(self, model: bytes, **options: object) -> None:
        super().__init__(model)
        self.input_shape, self.output_size = (28, 28, 1), 16
        self.cache: dict[int, np.ndarray] = {}

    def stage_input_bytes(self, stage: int) -> int:
        self._check_stage(stage)
        return (784, 16)[stage]

    def run(self, x: np.ndarray) -> np.ndarray:
        return stage0(x)

    def run_stage(self, key: int, stage: int, x: np.ndarray) -> np.ndarray:
        self._check_stage(stage)
        if stage == 0:
            self.cache[key] = stage0(x)
            return self.cache[key]
        return (self.cache.pop(key).astype(np.int16) + x).astype(np.int8)


def stage0(x: np.ndarray) -> np.ndarray:
    return (np.asarray(x, np.int64).reshape(16, 49).sum(1) % 256 - 128).astype(np.int8)


@dataclass
class HandStrategy:
    """A hand-written strategy: the conv part's output and the two-stage part feed a sum."""

    parts: list[PartInfo]
    class_names: tuple[str, ...] = tuple(f"c{i}" for i in range(10))
    seen: list = field(default_factory=list)
    steps: int = 2  # the gateway gives each step half of a request's deadline

    def part(self, name: str) -> PartInfo:
        return next(p for p in self.parts if p.name == name)

    def plan(self, image: np.ndarray):
        x = np.asarray(image, np.int8).reshape(-1)
        conv_in = x[:432]
        a, s0, sc = yield [Call("conv", 0, conv_in), Call("staged", 0, x), Call("scores", 0, x)]
        (s1,) = yield [Call("staged", 1, np.arange(16, dtype=np.int8))]
        self.seen.append((a, s0, sc, s1))
        missing = tuple(p for p, r in (("conv", a), ("staged", s1), ("scores", sc)) if r is None)
        if sc is None:
            return Outcome(None, None, missing, "failed", "no scores")
        scores = sc.astype(float) + (0 if a is None else a.astype(float))
        return Outcome(int(np.argmax(scores)), scores, missing, "degraded" if missing else "ok")


def _port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def conv_tflite(pytestconfig: pytest.Config) -> bytes:
    return cached_tflite(pytestconfig, "convs:1")["convs:1"]


@pytest.fixture
def live(tmp_path: Path, conv_tflite: bytes):
    """Three part boards (tensor over UDP, two-stage over UDP, scores over a serial pty) and a
    started gateway on a hand-written strategy."""
    run = make_fake_run(tmp_path)
    files = {}
    for name, blob in (("conv", conv_tflite), ("staged", b"two stages"), ("scores", b"scores")):
        files[name] = tmp_path / f"{name}.bin"
        files[name].write_bytes(blob)
    strategy = HandStrategy(
        [
            PartInfo("conv", files["conv"], "tensor", 0),
            PartInfo("staged", files["staged"], "tensor", 0, 2),
            PartInfo("scores", files["scores"], "scores", 10),
        ]
    )
    boards = [
        {
            "id": 1,
            "name": "conv1",
            "kind": "linux",
            "link": f"udp://127.0.0.1:{_port()}",
            "variant": "conv",
        },
        {
            "id": 2,
            "name": "staged1",
            "kind": "linux",
            "link": f"udp://127.0.0.1:{_port()}",
            "variant": "staged",
        },
        {
            "id": 3,
            "name": "scores1",
            "kind": "mcu",
            "link": "pty://scores1",
            "variant": "scores",
            "profile": "esp32-s3",
        },
    ]
    doc = {
        "run": str(run),
        "key": KEY.hex(),
        "k": 2,
        "deadline_ms": 1500,
        "heartbeat_ms": 60_000,
        "strategy": "mp",
    }
    (tmp_path / "deploy.toml").write_text(deployment_toml(doc, boards))
    dep = load_deployment(tmp_path / "deploy.toml", check_run=False)
    fake = FakeBoards(dep)
    sha = {n: hashlib.sha256(f.read_bytes()).digest() for n, f in files.items()}
    fake.start(
        "conv1",
        runner=LiteRtRunner(conv_tflite, kernels="ref"),
        k=0,
        max_frame=52,
        model_sha256=sha["conv"],
    )
    fake.start("staged1", runner=TwoStages(b"two stages"), k=0, model_sha256=sha["staged"])
    fake.start("scores1", runner=FakeRunner(b"scores"), k=10, model_sha256=sha["scores"])
    gw = Gateway(dep, strategy=strategy)
    yield gw, fake, strategy
    fake.stop()


def _frame_bytes(msgs: list, secure: bool = True) -> int:
    return sum(HEADER_SIZE + len(m.pack()) + (TAG_SIZE if secure else 0) + CRC_SIZE for m in msgs)


def test_call_part_gets_the_exact_tensor_and_counts_its_frames(live) -> None:
    gw, fake, _ = live
    x = np.random.default_rng(1).integers(-128, 128, 432).astype(np.int8)
    want = LiteRtRunner(fake.servers["conv1"].runner.model, kernels="ref").run(x)

    async def go():
        await gw.start(hello_timeout=5)
        try:
            assert gw.boards["conv1"].up and gw.boards["conv1"].hello.k == 0
            return await gw.call_part("conv1", 0, x.tobytes(), time.monotonic() + 2)
        finally:
            await gw.close()

    reply = asyncio.run(go())
    assert reply is not None and np.array_equal(reply.vector, want)
    chunks = fb.split_infer(x.tobytes(), max_frame=52)
    answer = fb.split_tensor(want.tobytes(), 0, max_frame=52)
    assert len(answer) == 3  # 10 bytes in 4-byte chunks: TENSOR chunked to the board's frame
    assert reply.wire.messages_sent == len(chunks) == 54
    assert reply.wire.bytes_sent == _frame_bytes(chunks)
    assert (reply.wire.messages_received, reply.wire.bytes_received) == (3, _frame_bytes(answer))


def test_plan_over_tensor_stage_and_scores_parts_then_a_board_killed(live) -> None:
    gw, fake, strategy = live
    image = np.random.default_rng(2).integers(-128, 128, 784).astype(np.int8)

    async def go():
        await gw.start(hello_timeout=5)
        try:
            assert all(b.up for b in gw.boards.values()), [b.refused for b in gw.boards.values()]
            sent0 = {n: b.stats.bytes_sent for n, b in gw.boards.items()}
            got0 = {n: b.stats.bytes_received for n, b in gw.boards.items()}
            full = await run_plan(
                gw,
                strategy.plan(image),
                {"conv": ["conv1"], "staged": ["staged1"], "scores": ["scores1"]},
                2.0,
            )
            sent = sum(b.stats.bytes_sent - sent0[n] for n, b in gw.boards.items())
            got = sum(b.stats.bytes_received - got0[n] for n, b in gw.boards.items())
            fake.kill("conv1")
            answers = [await gw.classify(image, label=3, deadline_s=0.6) for _ in range(3)]
            bad = await gw.call_part("staged1", 1, bytes(15), time.monotonic() + 1)
            return full, sent, got, answers, bad
        finally:
            await gw.close()

    (outcome, acct), sent, got, answers, bad = asyncio.run(go())
    a, s0, sc, s1 = strategy.seen[0]
    conv = LiteRtRunner(fake.servers["conv1"].runner.model, kernels="ref").run(image[:432])
    assert np.array_equal(a, conv) and np.array_equal(s0, stage0(image))
    assert np.array_equal(s1, (stage0(image).astype(np.int16) + np.arange(16)).astype(np.int8))
    assert np.array_equal(sc, FakeRunner(b"scores").run(image))  # 10 pairs scattered back
    assert outcome.status == "ok" and acct.missing == [] and acct.calls == 4
    # the plan's accounting is every frame of the request, at its size on the link (the scores
    # board's serial frames with COBS and delimiter), both ways
    assert (acct.wire.bytes_sent, acct.wire.bytes_received) == (sent, got)
    assert acct.wire.messages_received == 3 + 1 + 1 + 1  # 3 TENSOR + 2 TENSOR + 1 RESULT
    # conv1 killed: silent until the end of step 1 (half the deadline), stage 1 still runs in
    # step 2's half; after fail_after (2) misses the gateway marks it down, its calls None at once
    assert [a.missing for a in answers] == [("conv1",)] * 3
    assert not gw.boards["conv1"].up and gw.boards["conv1"].stats.misses == 2
    answer = answers[2]
    assert answer.degraded and answer.missing == ("conv1",) and answer.error is None
    assert answer.winner == int(np.argmax(FakeRunner(b"scores").run(image)))
    assert answer.wire["missing"] == ["conv"] and answer.wire["bytes_sent"] > 0
    assert strategy.seen[3][0] is None and strategy.seen[3][3] is not None
    assert bad is None  # stage 1 with 15 bytes: ERROR BAD_INPUT_SIZE
    assert fake.servers["staged1"].counts["errors"] == 1
