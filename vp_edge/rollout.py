"""``vp-edge rollout``: move a deployment's boards to another converted run while the gateway
serves, a few boards at a time.

Per board (Mender's install → verify → commit, MCUboot's test-then-confirm): register the new
model's card (the running gateway re-learns the board from its HELLO, docs/protocol.md §4), flash it
into the inactive slot (the board self-tests it before activating; the readback hash must
match), check the HELLO it now answers against the card, then **canary**: ``canary`` requests
sent to the board over its own link (a sender of their own, beside the gateway) whose RESULTs
must equal the new model's answers computed here on the board's runtime. A board that fails
goes back to the model it ran (flashed again from the deployment's run) and the rollout halts,
unless ``continue_on_failure``. At most ``max_unavailable`` boards are updated at once, so the
ensemble keeps answering with the others. The state file records each board's outcome: a
rollout stopped by Ctrl-C resumes where it was.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from converters.rundir import RunDir
from vp_edge.cards import card_beside, register_card, sha256_hex
from vp_edge.deployment import BoardSpec, Deployment
from vp_edge.errors import DeploymentError, VpEdgeError

DONE, FAILED, REVERTED, SKIPPED = "done", "failed", "reverted", "already"


class RolloutError(VpEdgeError):
    """A rollout halted: a board failed its update (exit code 4)."""

    exit_code = 4


@dataclass(frozen=True)
class Step:
    """One board's update: what it gets, from where."""

    board: str
    variant: str
    artefact: Path
    sha256: str
    previous: Path

    def to_dict(self) -> dict:
        return {
            "board": self.board,
            "variant": self.variant,
            "artefact": str(self.artefact),
            "sha256": self.sha256,
            "previous": str(self.previous),
        }


@dataclass
class RolloutOptions:
    max_unavailable: int = 1
    canary: int = 8
    continue_on_failure: bool = False
    state_file: Path | None = None
    flash_timeout: float = 2.0
    seed: int = 0


@dataclass
class RolloutReport:
    to: str
    steps: list[dict] = field(default_factory=list)
    outcomes: dict[str, dict] = field(default_factory=dict)
    halted: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "to": self.to,
            "steps": self.steps,
            "outcomes": self.outcomes,
            "halted": self.halted,
            "seconds": round(self.seconds, 3),
        }


def _artefact_path(run: Path, b: BoardSpec) -> Path:
    """The file a board of this kind runs: the .vpw for engine/pynq boards, else the .tflite."""
    from boards.registry import get_kind

    suffix = ".vpw" if get_kind(b.kind).runner in ("engine", "pynq") else ".tflite"
    return RunDir(run).model(b.variant, suffix)


def plan(dep: Deployment, to: Path) -> list[Step]:
    """Every board's step to run ``to``; refused (exit 2) when a model or its card is missing."""
    if dep.strategy != "vp":
        raise DeploymentError(f"rollout moves voting (vp) deployments; this one is {dep.strategy}")
    steps = []
    for b in dep.boards:
        path = _artefact_path(to, b)
        if not path.exists():
            raise DeploymentError(
                f"{path}: no {path.suffix} of variant {b.variant} in {to}; "
                f"convert (and pack) that run first"
            )
        data = path.read_bytes()
        if card_beside(data, path) is None:
            raise DeploymentError(
                f"{path}: its card {path.with_suffix('.json').name} does not "
                "describe it; run 'vp-edge convert' on that run again"
            )
        steps.append(Step(b.name, b.variant, path, sha256_hex(data), _artefact_path(dep.run, b)))
    return steps


def _load_state(path: Path | None, to: Path) -> dict[str, dict]:
    if path is None or not path.exists():
        return {}
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DeploymentError(
            f"rollout state {path}: unreadable ({e}); delete it to start over"
        ) from None
    if state.get("to") != str(to):
        raise DeploymentError(
            f"rollout state {path} is for {state.get('to')}, not {to}; "
            "finish that rollout or delete the file"
        )
    return state.get("outcomes", {})


def _save_state(path: Path | None, to: Path, outcomes: dict[str, dict]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"to": str(to), "outcomes": outcomes}, indent=1))
    os.replace(tmp, path)


def rollout(
    dep: Deployment,
    to: Path,
    opts: RolloutOptions,
    progress: Callable[[str, dict], None] | None = None,
) -> RolloutReport:
    """Update every board of ``dep`` to run ``to``'s models (see the module docstring)."""
    t0 = time.monotonic()
    steps = plan(dep, to)
    report = RolloutReport(str(to), [s.to_dict() for s in steps])
    outcomes = _load_state(opts.state_file, to)
    report.outcomes = outcomes
    todo = [s for s in steps if outcomes.get(s.board, {}).get("status") not in (DONE, SKIPPED)]
    say = progress or (lambda what, info: None)
    n = max(1, opts.max_unavailable)
    with ThreadPoolExecutor(n) as pool:
        for i in range(0, len(todo), n):
            batch = todo[i : i + n]
            for s in batch:
                say("start", {"board": s.board})
            for s, result in zip(
                batch, pool.map(lambda s: update_board(dep, s, opts), batch), strict=True
            ):
                outcomes[s.board] = result
                _save_state(opts.state_file, to, outcomes)
                say(result["status"], {"board": s.board, **result})
            if (
                any(outcomes[s.board]["status"] in (FAILED, REVERTED) for s in batch)
                and not opts.continue_on_failure
            ):
                report.halted = True
                break
    report.seconds = time.monotonic() - t0
    return report


def state_file_for(dep: Deployment, state: Path | None) -> Path:
    """The progress file: the one given, else STATE_DIR/rollout.json, where running the same
    rollout again finds it and resumes."""
    return state or dep.state_dir / "rollout.json"


def check_rollout(report: dict, state_file: Path | None) -> None:
    """Raise ``RolloutError`` (exit 4) when the rollout halted or a board failed or was
    reverted; called after the report is shown, so the user sees every board's outcome."""
    if report["halted"] or any(
        o["status"] in (FAILED, REVERTED) for o in report["outcomes"].values()
    ):
        raise RolloutError(
            f"rollout to {report['to']} "
            + ("halted" if report["halted"] else "finished with failures")
            + f"; state kept in {state_file}"
        )


def update_board(dep: Deployment, step: Step, opts: RolloutOptions) -> dict:
    """Flash, check and canary one board; revert it on failure. Its outcome (JSON-able)."""
    from converters.card import read_card
    from firmware_bridge.errors import BridgeError
    from vp_edge.flashing import deployment_target

    t0 = time.monotonic()
    target = deployment_target(dep, step.board)
    data = step.artefact.read_bytes()
    card = read_card(step.artefact.with_suffix(".json"))
    register_card(dep.state_dir, step.sha256, card)
    try:
        if _running_sha(target, opts) == step.sha256:
            return {"status": SKIPPED, "seconds": round(time.monotonic() - t0, 3)}
        _flash(target, data, opts)
        canary = _canary(dep, target, step, card, data, opts)
    except (BridgeError, VpEdgeError) as e:
        why = str(e)
    else:
        if canary is None:
            return {
                "status": DONE,
                "seconds": round(time.monotonic() - t0, 3),
                "canary": opts.canary,
            }
        why = canary
    try:
        if step.previous.exists():
            _flash(target, step.previous.read_bytes(), opts)
            return {"status": REVERTED, "error": why, "seconds": round(time.monotonic() - t0, 3)}
    except (BridgeError, VpEdgeError) as e:
        why += f"; revert failed too: {e}"
    return {"status": FAILED, "error": why, "seconds": round(time.monotonic() - t0, 3)}


def _session(target, opts: RolloutOptions):
    from firmware_bridge.protocol.session import BoardSession

    return BoardSession(
        target.url,
        board_id=target.board_id,
        key=target.key,
        epoch_file=target.epoch_file,
        timeout=opts.flash_timeout / 4,
        tries=4,
        baud=target.baud,
    )


def _running_sha(target, opts: RolloutOptions) -> str:
    with _session(target, opts) as s:
        return s.hello().model_sha256.hex()


def _flash(target, data: bytes, opts: RolloutOptions) -> None:
    from firmware_bridge.flash import flash

    flash(
        target.url,
        data,
        board_id=target.board_id,
        key=target.key,
        epoch_file=target.epoch_file,
        timeout=opts.flash_timeout / 4,
        tries=5,
        baud=target.baud,
    )


def _canary(
    dep: Deployment, target, step: Step, card: dict, data: bytes, opts: RolloutOptions
) -> str | None:
    """None when the board's HELLO matches the card and its RESULTs on ``opts.canary``
    requests equal the new model's answers computed here on the board's runtime; else why."""
    from firmware_bridge.protocol import Error
    from firmware_bridge.protocol.topk import result_pairs
    from vp_edge.preprocess import quantize

    runner = offline_runner(target.spec, data)
    rng = np.random.default_rng(opts.seed)
    shape = tuple(card["input_shape"][1:])
    with _session(target, opts) as s:
        hello = s.hello()
        if hello.model_sha256.hex() != step.sha256:
            return f"board runs {hello.model_sha256.hex()[:16]}... after the flash"
        if hello.score_zero_point != card["output_zero_point"] or not np.isclose(
            hello.score_scale, card["output_scale"], rtol=1e-6
        ):
            return (
                f"HELLO output quantisation {hello.score_scale}/{hello.score_zero_point} is "
                f"not the card's {card['output_scale']}/{card['output_zero_point']}"
            )
        for i in range(opts.canary):
            image = rng.integers(0, 256, shape, dtype=np.uint8)
            x = quantize(image, card["input_scale"], card["input_zero_point"])
            reply = s.infer(x.tobytes(), timeout=max(2.0, 2 * dep.deadline_s))
            if isinstance(reply, Error):
                return f"canary request {i + 1}: the board answered {reply.status.name}"
            want = result_pairs(np.asarray(runner.run(x), np.int8).reshape(-1), hello.k)
            if tuple(reply.pairs) != want:
                return (
                    f"canary request {i + 1}: RESULT {list(reply.pairs)} differs from the "
                    f"new model's offline answer {list(want)}"
                )
    return None


def offline_runner(spec: BoardSpec | None, data: bytes):
    """The board's own runtime (kind, profile, LiteRT kernels) on the new artefact."""
    from boards.profiles import get_profile
    from boards.registry import get_kind
    from boards.runners import make_runner

    assert spec is not None
    name = get_kind(spec.kind).runner
    opts: dict[str, object] = {}
    if name == "tflm":
        opts["arena_bytes"] = get_profile(spec.profile).arena_limit
    if name == "litert":
        opts["kernels"] = spec.kernels or None
    return make_runner("engine" if name == "pynq" else name, data, **opts)
