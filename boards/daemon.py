"""Build a board server from files and flags: what ``vp-edge board serve`` and emulation run.

A ``linux`` board serves a .tflite on LiteRT over UDP (XNNPACK unless ``kernels`` says ref or
builtin): the daemon a Raspberry Pi runs. An emulated ``mcu`` board serves it on tflite-micro
with the profile's arena limit behind a pseudo-terminal whose link is throttled to the profile's
baud rate.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from boards.errors import BoardError
from boards.profiles import check_fit, get_profile
from boards.registry import get_kind, link_problem
from boards.runners import RUNNERS, make_runner
from boards.server import BoardConfig, BoardServer, artefact_facts, mount_loader
from converters.card import check_model_file
from converters.errors import ArtifactError, ConversionError
from firmware_bridge.errors import UsageError
from firmware_bridge.files import MODEL_FILE_MAX, read_limited
from firmware_bridge.transport import ThrottledLink, for_board, open_link, parse_link


@dataclass
class BoardOptions:
    """Everything a board daemon needs (the CLI flags of ``vp-edge board serve``)."""

    model: Path
    listen: str
    board_id: int
    key: bytes | None
    kind: str = "linux"
    runner: str | None = None
    k: int = 2  # 0: tensor mode (answers TENSOR); a card with "reply" overrides (board_k)
    variant: str | None = None
    profile: str | None = None
    pty_dir: Path | None = None
    epoch_file: Path | None = None
    heartbeat_s: float = 1.0
    baud: int | None = None  # throttle the link to this rate (default: the profile's, on ptys)
    model_dir: Path | None = None  # accept 'vp-edge flash' into model slots kept here
    kernels: str | None = None  # litert runner: ref | builtin | xnnpack (default xnnpack)


def _card(model: Path) -> dict:
    card = model.with_suffix(".json")
    try:
        return json.loads(card.read_text()) if card.exists() else {}
    except (OSError, ValueError):
        return {}


def _check_int8(path: Path, model: bytes) -> None:
    """Boards run full-int8 models only: say so, and how to make one, before LiteRT refuses."""
    from converters.tflite import read_graph

    g = read_graph(model)
    if (g.input_dtype, g.output_dtype) != ("int8", "int8"):
        raise UsageError(
            f"{path}: input/output are {g.input_dtype}/{g.output_dtype}; a board "
            "serves a full-int8 model (int8 input and output): make one with "
            "'vp-edge convert --run RUN' (RUN/models/VARIANT.tflite)"
        )


def board_k(k: int, card: dict, outputs: int) -> int:
    """The k a board announces: its card's part reply decides ("tensor": 0, the board answers
    TENSOR; "scores": every output in one RESULT), else the ``k`` it was given."""
    reply = card.get("reply")
    if reply == "tensor":
        return 0
    if reply == "scores":
        return outputs
    return k


def build_server(o: BoardOptions) -> BoardServer:
    """Check the model fits the board, load it, open the link; refuse with numbers."""
    kind = get_kind(o.kind)
    profile = get_profile(o.profile or kind.default_profile)
    runner_name = o.runner or kind.runner
    if problem := link_problem(kind, parse_link(o.listen).scheme):
        raise UsageError(f"--listen {o.listen}: {problem} (--kind {o.kind})")
    if runner_name not in RUNNERS:
        raise BoardError(f"unknown model runner {runner_name!r}; known: {', '.join(RUNNERS)}")
    try:
        model = read_limited(o.model, MODEL_FILE_MAX, f"model {o.model}")
    except OSError as e:
        raise BoardError(f"cannot read model {o.model}: {e.strerror}") from None
    card = _card(o.model)
    try:  # a corrupt .vpw, or a .tflite its card beside does not describe, is not served
        check_model_file(model, o.model)
    except (ArtifactError, ConversionError) as e:
        raise BoardError(str(e)) from None
    variant = o.variant or o.model.stem
    check_fit(profile, variant, card.get("arena_bytes"), len(model))
    if o.model.suffix == ".tflite":
        _check_int8(o.model, model)
    if o.kernels and runner_name != "litert":
        raise UsageError(
            f"--kernels {o.kernels}: kernels choose LiteRT's kernels, so they belong "
            f"to the litert runner (linux boards), not {runner_name}"
        )
    opts: dict[str, object] = {"arena_bytes": profile.arena_limit} if runner_name == "tflm" else {}
    if runner_name == "litert":
        opts["kernels"] = o.kernels
    runner = make_runner(runner_name, model, **opts)
    k = board_k(o.k, card, runner.output_size)
    if k != 0 and not 1 <= k <= runner.output_size:
        raise UsageError(
            f"-k {k}: the model has {runner.output_size} classes; give k from 1 "
            f"to {runner.output_size} (the gateway votes with k <= classes/2), "
            "or 0 for a part that answers its whole output (TENSOR)"
        )
    runner.run(np.zeros(runner.input_shape, np.int8))  # warm-up: the first request is not slow
    facts = artefact_facts(model) if o.model.suffix in (".tflite", ".vpb") else {}
    spec = parse_link(o.listen)
    link = open_link(for_board(o.listen, o.board_id), server=True, pty_dir=o.pty_dir)
    baud = o.baud or (profile.baud if spec.scheme == "pty" else None)
    if baud and spec.framing == "stream":
        link = ThrottledLink(link, baud)
    cfg = BoardConfig(
        o.board_id,
        variant,
        k,
        o.key,
        kind.hello_kind,
        heartbeat_s=o.heartbeat_s,
        epoch_file=o.epoch_file,
        **facts,
    )
    server = BoardServer(link, runner, cfg)
    if o.model_dir is not None:
        mount_loader(server, o.model_dir, lambda blob: make_runner(runner_name, blob, **opts))
    return server


def write_ready(path: Path, server: BoardServer) -> None:
    """Tell an emulator the board is up: pid, link and (for ptys) the device path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {
        "pid": os.getpid(),
        "board_id": server.cfg.board_id,
        "link": server.link.url,
        "pty": getattr(getattr(server.link, "inner", server.link), "path", None),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info) + "\n")
    os.replace(tmp, path)
