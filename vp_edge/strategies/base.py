"""What every strategy shares: parts, calls, outcomes, ``strategy.json`` and the offline driver.

A strategy's ``plan(image)`` is a generator: it yields a list of ``Call``s (those in one step
may run in parallel), receives the replies (int8 1-D vectors, or None for a part that is
missing, failed or late) in the order of the calls, and returns an ``Outcome``. The live
gateway and ``run_offline`` drive the very same generator, so equal replies give equal
outcomes.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np

from converters.rundir import RunDir
from vp_edge.errors import ArtifactError, UsageError
from vp_edge.preprocess import quantize

#: strategy name -> module under vp_edge.strategies holding its Strategy subclass
NAMES = ("vp", "mp", "cp", "lcp", "disco")
SCHEMA_VERSION = 1
OK, DEGRADED, FAILED = "ok", "degraded", "failed"


class Call(NamedTuple):
    """One request to the board serving ``part``: run ``stage`` on ``tensor`` (int8, 1-D)."""

    part: str
    stage: int
    tensor: np.ndarray


@dataclass(frozen=True)
class PartInfo:
    """A deployable unit: one board runs it. ``k``: outputs for "scores" replies, 0 for tensor."""

    name: str
    artefact: Path
    reply: str
    k: int
    stages: int = 1
    input: dict = field(default_factory=dict)
    output: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """The answer to one request (``scores``: the C floats the label is the argmax of)."""

    label: int | None
    scores: np.ndarray | None
    missing: tuple[str, ...]
    status: str
    note: str = ""


Plan = Generator[list[Call], list["np.ndarray | None"], Outcome]


class Strategy:
    """Base class: a run's parts and the rule that turns their replies into an answer."""

    name: ClassVar[str] = "strategy"

    def __init__(self, run: Path, doc: dict) -> None:
        self.run = Path(run)
        self.doc = doc
        self.class_names: tuple[str, ...] = tuple(doc["class_names"])
        self.parts: list[PartInfo] = [
            PartInfo(
                p["name"],
                self.run / p["artefact"],
                p["reply"],
                int(p["k"]),
                int(p.get("stages", 1)),
                p.get("input", {}),
                p.get("output", {}),
            )
            for p in doc["parts"]
        ]
        self._gateway_runners: dict[str, Any] = {}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def part(self, name: str) -> PartInfo:
        for p in self.parts:
            if p.name == name:
                return p
        raise UsageError(
            f"strategy {self.name}: no part {name!r}; parts: "
            f"{', '.join(p.name for p in self.parts)}"
        )

    def image_tensor(self, part: PartInfo, image: np.ndarray) -> np.ndarray:
        """The uint8 image quantised for ``part``'s input (vp_edge.preprocess.quantize)."""
        q = quantize(np.asarray(image, np.uint8), part.input["scale"], part.input["zero_point"])
        return q.reshape(-1)

    def gateway_runner(self, key: str) -> Any:
        """The gateway's own int8 model (e.g. a merge), on LiteRT reference kernels."""
        if key not in self._gateway_runners:
            from boards.runners import LiteRtRunner

            path = self.run / self.doc["gateway"][key]["artefact"]
            self._gateway_runners[key] = LiteRtRunner(path.read_bytes(), kernels="ref")
        return self._gateway_runners[key]

    @property
    def steps(self) -> int:
        """Sequential steps of a full plan (the live gateway splits a request's deadline
        evenly over them, so a silent part costs one step's share, not the whole deadline)."""
        return max((p.stages for p in self.parts), default=1)

    def plan(self, image: np.ndarray) -> Plan:
        raise NotImplementedError


def missing_note(missing: Sequence[str]) -> str:
    return f"no reply from {', '.join(missing)}" if missing else ""


def write_strategy(run: Path, doc: dict) -> Path:
    """Write ``run/strategy.json`` (the schema is in docs/strategies.md)."""
    doc = {"version": SCHEMA_VERSION, **doc}
    path = RunDir(run).strategy
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def read_strategy_doc(run: Path) -> dict:
    path = RunDir(run).strategy
    if not path.exists():
        raise ArtifactError(f"{run} has no strategy.json: run 'vp-edge convert --run {run}' first")
    try:
        doc = json.loads(path.read_text())
    except ValueError as e:
        raise ArtifactError(f"{path}: not valid JSON ({e}); reconvert the run") from None
    if doc.get("strategy") not in NAMES:
        raise ArtifactError(
            f"{path}: unknown strategy {doc.get('strategy')!r}; known: {', '.join(NAMES)}"
        )
    return doc


def strategy_class(name: str) -> type[Strategy]:
    if name not in NAMES:
        raise UsageError(f"unknown strategy {name!r}; known: {', '.join(NAMES)}")
    module = importlib.import_module(f"vp_edge.strategies.{name}")
    return module.STRATEGY


def load_strategy(run: Path) -> Strategy:
    """The strategy of a converted run (``run/strategy.json``)."""
    doc = read_strategy_doc(Path(run))
    return strategy_class(doc["strategy"])(Path(run), doc)


def part_runner(part: PartInfo, kernels: str = "ref") -> Any:
    """The runner a board uses for this part's artefact: StagedRunner (.vpb) or LiteRtRunner."""
    data = part.artefact.read_bytes()
    from boards.staged import ZIP_MAGIC, StagedRunner

    if data[:4] == ZIP_MAGIC:
        return StagedRunner(data, kernels=kernels)
    from boards.runners import LiteRtRunner

    return LiteRtRunner(data, kernels=kernels)


def call_part(runner: Any, key: int, stage: int, x: np.ndarray) -> np.ndarray:
    """``runner.run_stage`` when the runner has stages, else ``run`` (stage 0 only)."""
    if hasattr(runner, "run_stage"):
        return runner.run_stage(key, stage, x)
    if stage != 0:
        raise ArtifactError(f"a single-stage part was asked for stage {stage}")
    return runner.run(x)


@dataclass
class Traffic:
    """Payload bytes of one request's calls and replies (int8 tensors; a scores reply: k
    (class, score) pairs). Not frames: the live gateway counts frames."""

    calls: int = 0
    sent: int = 0
    received: int = 0


def reply_bytes(part: PartInfo, reply: np.ndarray | None) -> int:
    """Payload of a reply: a tensor's int8 values, or k (class, int8 score) pairs for scores."""
    if reply is None:
        return 0
    return 2 * part.k if part.reply == "scores" else int(reply.size)


def drive(
    plan: Plan,
    answer: Any,
    traffic: Traffic | None = None,
    parts: dict[str, PartInfo] | None = None,
    on_step: Any = None,
) -> Outcome:
    """Run a plan to its Outcome, ``answer(call) -> int8 vector | None`` serving each call;
    ``traffic`` counts payload bytes (``reply_bytes``, given ``parts`` by name);
    ``on_step(calls, replies)`` (if given) sees every step."""
    try:
        calls = next(plan)
        while True:
            replies = [answer(c) for c in calls]
            if on_step is not None:
                on_step(calls, replies)
            if traffic is not None:
                traffic.calls += len(calls)
                traffic.sent += sum(int(c.tensor.size) for c in calls)
                traffic.received += sum(
                    reply_bytes(parts[c.part], r) if parts else (0 if r is None else r.size)
                    for c, r in zip(calls, replies, strict=True)
                )
            calls = plan.send(replies)
    except StopIteration as stop:
        return stop.value


def run_offline(
    strategy: Strategy,
    images: Iterable[np.ndarray],
    drop: Iterable[str] = (),
    traffic: list[Traffic] | None = None,
    runners: dict | None = None,
) -> list[Outcome]:
    """Each image through the plan, every part on the runner boards use (reference kernels);
    parts named in ``drop`` answer None. ``traffic`` (if given) gets one Traffic per image."""
    dropped = set(drop)
    unknown = dropped - {p.name for p in strategy.parts}
    if unknown:
        raise UsageError(f"drop: no part named {', '.join(sorted(unknown))} in {strategy.name}")
    if runners is None:
        runners = {p.name: part_runner(p) for p in strategy.parts}
    out = []
    for key, image in enumerate(images):
        t = Traffic()

        def answer(c: Call, key: int = key) -> np.ndarray | None:
            if c.part in dropped:
                return None
            return call_part(runners[c.part], key, c.stage, c.tensor)

        out.append(drive(strategy.plan(image), answer, t, {p.name: p for p in strategy.parts}))
        if traffic is not None:
            traffic.append(t)
    return out
